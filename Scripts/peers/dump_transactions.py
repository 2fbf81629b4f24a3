"""Prints, as JSON, every transaction and data record that Python's ZODB
reads from a Data.fs, so that the Swift tests can compare what they
committed with what ZODB sees.

The storage is opened with ZODB's FileStorage, read-only (so it uses and
checks Data.fs.index like Zope would, and never writes). The output:

    {"size": getSize(), "last_tid": hex, "objects": len(storage),
     "used_index": whether FileStorage trusted Data.fs.index,
     "index": {"pos": pos of fsIndex.load, "equals_scan": bool} or null,
     "transactions": [{"tid", "position", "status", "user", "description",
                       "extension": the decoded dict,
                       "records": [{"oid", "tid", "position", "prev", "tloc",
                                    "plen", "sha256"}]}],
     "current": {oid: {"tid", "sha256"}}}

Oids and tids are 16 hex digits; sha256 is of the record's pickle (null for
a record without data).

usage: dump_transactions.py DATA_FS
"""
import hashlib
import json
import os
import sys

from ZODB.FileStorage import FileStorage
from ZODB.FileStorage.FileStorage import read_index
from ZODB.fsIndex import fsIndex
from ZODB.POSException import POSKeyError
from ZODB.utils import load_current, u64


def hexid(raw):
    return '%016x' % u64(raw)


def text(raw):
    return raw.decode('utf-8') if isinstance(raw, bytes) else raw


def index_info(path):
    index_path = path + '.index'
    if not os.path.exists(index_path):
        return None
    saved = fsIndex.load(index_path)
    scanned = fsIndex()
    with open(path, 'rb') as f:
        read_index(f, path, scanned, {}, read_only=1)
    return {
        'pos': int(saved['pos']),
        'entries': len(saved['index']),
        'equals_scan': dict(saved['index'].items()) == dict(scanned.items()),
    }


def main(path):
    fs = FileStorage(path, read_only=True)
    out = {
        'size': fs.getSize(),
        'last_tid': hexid(fs.lastTransaction()),
        'objects': len(fs),
        'used_index': bool(fs._used_index),
        'index': index_info(path),
        'transactions': [],
        'current': {},
    }
    try:
        for txn in fs.iterator():
            records = []
            for record in txn:
                header = fs._read_data_header(record.pos)
                records.append({
                    'oid': hexid(record.oid),
                    'tid': hexid(record.tid),
                    'position': record.pos,
                    'prev': header.prev,
                    'tloc': header.tloc,
                    'plen': header.plen,
                    'sha256': (hashlib.sha256(record.data).hexdigest()
                               if record.data is not None else None),
                })
            out['transactions'].append({
                'tid': hexid(txn.tid),
                'position': txn._tpos,
                'status': text(txn.status),
                'user': text(txn.user),
                'description': text(txn.description),
                'extension': txn.extension,
                'records': records,
            })
        for oid in fs._index.keys():
            try:
                data, tid = load_current(fs, oid)
            except POSKeyError:
                continue
            out['current'][hexid(oid)] = {
                'tid': hexid(tid),
                'sha256': hashlib.sha256(data).hexdigest(),
            }
    finally:
        fs.close()
    json.dump(out, sys.stdout, default=repr)


if __name__ == '__main__':
    main(sys.argv[1])

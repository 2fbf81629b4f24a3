"""The reference for zodbfs's pack: ZODB's own ``FileStorage.pack``, and a
dump of what a packed storage holds, to compare two packed files.

    pack_reference.py pack DATA_FS T [--no-gc]
        packs DATA_FS with ``FileStorage.pack(T, referencesf)`` (T: seconds
        since the epoch, a float) and prints {"stop": hex tid of the pack
        time as ZODB computes it, "size": the new size}.

    pack_reference.py state DATA_FS STOP
        prints what ZODB reads from DATA_FS (opened read-only, its
        Data.fs.index used when sane), as JSON:
        {"size", "objects", "used_index",
         "current": {oid: {"tid", "sha256"}},          load() of every oid
         "transactions": [{"tid", "status", "user", "description",
                           "records": [{"oid", "tid", "sha256"|null}]}],
         "before": {probe: {oid: [start, sha256] | null | "POSKeyError"}}}
        where the probes are STOP + 1 and every transaction tid after STOP
        (plus one), and ``before`` is ``loadBefore`` of every oid at each.

Oids and tids are 16 hex digits.
"""
import hashlib
import json
import sys
import time

from persistent.TimeStamp import TimeStamp
from ZODB.FileStorage import FileStorage
from ZODB.POSException import POSKeyError
from ZODB.serialize import referencesf
from ZODB.utils import load_current, p64, u64


def hexid(raw):
    return '%016x' % u64(raw)


def text(raw):
    return raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw


def digest(data):
    return hashlib.sha256(data).hexdigest() if data is not None else None


def pack(path, t, gc):
    stop = TimeStamp(*time.gmtime(t)[:5] + (t % 60,)).raw()
    fs = FileStorage(path, pack_gc=gc)
    try:
        fs.pack(t, referencesf)
        size = fs.getSize()
    finally:
        fs.close()
    json.dump({'stop': hexid(stop), 'size': size}, sys.stdout)


def state(path, stop_hex):
    stop = int(stop_hex, 16)
    fs = FileStorage(path, read_only=True)
    try:
        out = {'size': fs.getSize(), 'objects': len(fs), 'used_index': bool(fs._used_index),
               'current': {}, 'transactions': [], 'before': {}}
        probes = {stop + 1}
        for txn in fs.iterator():
            out['transactions'].append({
                'tid': hexid(txn.tid), 'status': text(txn.status), 'user': text(txn.user),
                'description': text(txn.description),
                'records': [{'oid': hexid(r.oid), 'tid': hexid(r.tid), 'sha256': digest(r.data)} for r in txn],
            })
            if u64(txn.tid) > stop:
                probes.add(u64(txn.tid) + 1)
        oids = list(fs._index.keys())
        for oid in oids:
            try:
                data, tid = load_current(fs, oid)
                out['current'][hexid(oid)] = {'tid': hexid(tid), 'sha256': digest(data)}
            except POSKeyError:
                out['current'][hexid(oid)] = 'POSKeyError'
        for probe in sorted(probes):
            seen = {}
            for oid in oids:
                try:
                    found = fs.loadBefore(oid, p64(probe))
                    seen[hexid(oid)] = [hexid(found[1]), digest(found[0])] if found else None
                except POSKeyError:
                    seen[hexid(oid)] = 'POSKeyError'
            out['before']['%016x' % probe] = seen
    finally:
        fs.close()
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == '__main__':
    if sys.argv[1] == 'pack':
        pack(sys.argv[2], float(sys.argv[3]), '--no-gc' not in sys.argv)
    elif sys.argv[1] == 'state':
        state(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

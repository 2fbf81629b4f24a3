"""Prints, as JSON, what Python's ZODB reads from a Data.fs: for every
current object its class, tid and `referencesf` list. The Swift tests
compare their own reading with this one.

usage: dump_objects.py DATA_FS
"""
import json
import sys

from ZODB.FileStorage import FileStorage
from ZODB.serialize import referencesf
from ZODB.utils import load_current, u64
from ZODB.POSException import POSKeyError


def main(path):
    fs = FileStorage(path, read_only=True)
    out = {}
    try:
        for oid in fs._index.keys():
            try:
                data, tid = load_current(fs, oid)
            except POSKeyError:
                continue
            from ZODB.utils import get_pickle_metadata
            module, name = get_pickle_metadata(data)
            out['%016x' % u64(oid)] = {
                'class': '%s.%s' % (module, name),
                'tid': tid.hex(),
                'references': ['%016x' % u64(r) for r in referencesf(data)],
            }
    finally:
        fs.close()
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])

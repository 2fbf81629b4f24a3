"""Checks many Data.fs files in one Python process, as ZODB sees them: for
each one, opens it with ZODB's FileStorage read-only and runs the check of
ZODB/scripts/fstest.py (`fstest.check`, what `fstest.py PATH` runs). Prints a
JSON list, one entry per path:

    {"path", "size": getSize(), "last_tid": hex, "transactions": count,
     "fstest": null when it passes, else its message}

usage: check_storages.py DATA_FS...
"""
import json
import sys

from ZODB.FileStorage import FileStorage
from ZODB.scripts import fstest
from ZODB.utils import u64


def check(path):
    fs = FileStorage(path, read_only=True)
    try:
        entry = {
            'path': path,
            'size': fs.getSize(),
            'last_tid': '%016x' % u64(fs.lastTransaction()),
            'transactions': sum(1 for _ in fs.iterator()),
        }
    finally:
        fs.close()
    try:
        fstest.check(path)
        entry['fstest'] = None
    except fstest.FormatError as error:
        entry['fstest'] = str(error)
    return entry


if __name__ == '__main__':
    json.dump([check(path) for path in sys.argv[1:]], sys.stdout)

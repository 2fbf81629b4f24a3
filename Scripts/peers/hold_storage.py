"""Opens a Data.fs read-write with ZODB's FileStorage — taking Data.fs.lock
as a running Zope does — and keeps it open until its standard input closes
or it gets SIGTERM/SIGINT. Writes READY_FILE once the storage is open, so
that a test knows when the lock is held.

usage: hold_storage.py DATA_FS READY_FILE
"""
import signal
import sys

from ZODB.FileStorage import FileStorage


def main(path, ready):
    fs = FileStorage(path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with open(ready, 'w') as f:
            f.write('open\n')
        sys.stdin.read()
    finally:
        fs.close()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])

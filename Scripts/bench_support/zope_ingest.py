#!/usr/bin/env python3
"""The Zope peer of zodbfs's upload benchmark: add a file to a Zope
database the way the ZMI and WebDAV do, with ``manage_addFile`` reading the
body from a file object (``File._read_data`` builds the Pdata chain,
taking savepoints), then commit.

    zope_ingest.py DATA_FS SOURCE

Prints JSON: seconds from the call to the end of the commit (the database
is opened before the clock starts, and 3 GiB of memory touched and freed,
as before zodbfs's copy: see ``warm_memory.py``), bytes, and the process's
peak RSS.
"""
import json
import os
import resource
import sys
import time

import transaction
from OFS.Image import manage_addFile
from ZODB import DB
from ZODB.FileStorage import FileStorage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from warm_memory import touch_and_free  # noqa: E402


def main(datafs, source):
    db = DB(FileStorage(datafs))
    conn = db.open()
    app = conn.root()['Application']
    folder = app['files'] if 'files' in app.objectIds() else app
    name = 'ingested-%d.bin' % os.getpid()
    with open(source, 'rb') as f:
        touch_and_free(3 << 30)
        start = time.perf_counter()
        manage_addFile(folder, name, file=f, title='')
        transaction.get().note('zope_ingest')
        transaction.commit()
        seconds = time.perf_counter() - start
    size = os.path.getsize(source)
    conn.close()
    db.close()
    print(json.dumps({'seconds': seconds, 'bytes': size,
                      'peak_rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])

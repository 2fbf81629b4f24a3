#!/usr/bin/env python3
"""The Python peer of the benchmark: Zope's own code paths over a Data.fs.

    zope_peer.py read   DATA_FS PATH [--passes N]   walk a File's Pdata chain
    zope_peer.py list   DATA_FS PATH [--passes N]   objectIds() + size of a folder
    zope_peer.py export DATA_FS PATH DEST           write a folder out as plain files

Run it with the venv python (Scripts/venv).  The Data.fs is opened
read-only with plain ZODB (``FileStorage(read_only=True)`` + ``DB``);
PATH is relative to ``root['Application']``.

``read`` and ``list`` talk to the benchmark over stdin/stdout so that it can
drop the page cache between opening the database and measuring: they print
``{"ready": ...}`` once the object at PATH is loaded, then, for each pass,
wait for a line on stdin, do the work, print one JSON line and ghost every
object (``cacheMinimize``) so that the next pass loads the records from the
storage again.
"""

import argparse
import json
import os
import resource
import sys
import time

# classes the fixture stores that are not part of Zope
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'fixtures'))


def vm_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def open_app(datafs):
    import ZODB
    from ZODB.FileStorage import FileStorage
    import OFS.Image  # noqa: F401  (the classes the records name)
    import zodbfs_fixture_classes  # noqa: F401
    storage = FileStorage(datafs, read_only=True)
    db = ZODB.DB(storage)
    conn = db.open()
    return db, conn, conn.root()['Application']


def traverse(app, path):
    obj = app
    for part in [p for p in path.split('/') if p]:
        obj = obj._getOb(part)
    return obj


def emit(value):
    sys.stdout.write(json.dumps(value) + '\n')
    sys.stdout.flush()


def wait_for_go():
    line = sys.stdin.readline()
    if not line:
        raise SystemExit(0)


def read_chain(obj, out):
    """Exactly what OFS.Image.File.index_html does for a Pdata chain:
    ``data = self.data; while data is not None: RESPONSE.write(data.data);
    data = data.next``."""
    n = 0
    data = obj.data
    if isinstance(data, bytes):
        out.write(data)
        return len(data)
    while data is not None:
        chunk = data.data
        out.write(chunk)
        n += len(chunk)
        data = data.next
    return n


def is_folder(ob):
    # not hasattr(ob, 'objectIds'): a File acquires that from its folder
    from Acquisition import aq_base
    return bool(getattr(aq_base(ob), 'isPrincipiaFolderish', False))


def list_folder(folder):
    """objectIds() and the size of each child, recursing into folders
    (what `find -printf '%s'` reports for the same tree)."""
    count = 0
    total = 0
    for id in folder.objectIds():
        ob = folder._getOb(id)
        count += 1
        if is_folder(ob):
            c, t = list_folder(ob)
            count += c
            total += t
        else:
            total += getattr(ob, 'size', 0) or 0
    return count, total


def cmd_read(args):
    db, conn, app = open_app(args.datafs)
    obj = traverse(app, args.path)
    obj.size  # load the File record itself
    emit({'ready': True, 'size': obj.size})
    for i in range(args.passes):
        wait_for_go()
        rss_before = vm_kib('VmRSS')
        with open(os.devnull, 'wb') as out:
            t0 = time.perf_counter()
            n = read_chain(traverse(app, args.path), out)
            seconds = time.perf_counter() - t0
        emit({'pass': i + 1, 'bytes': n, 'seconds': seconds,
              'rss_before_kib': rss_before, 'rss_after_kib': vm_kib('VmRSS'),
              'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
        conn.cacheMinimize()
    conn.close()
    db.close()


def cmd_list(args):
    db, conn, app = open_app(args.datafs)
    folder = traverse(app, args.path)
    folder.objectIds  # load the folder record itself
    emit({'ready': True})
    for i in range(args.passes):
        wait_for_go()
        t0 = time.perf_counter()
        count, total = list_folder(traverse(app, args.path))
        seconds = time.perf_counter() - t0
        emit({'pass': i + 1, 'entries': count, 'bytes': total,
              'seconds': seconds})
        conn.cacheMinimize()
    conn.close()
    db.close()


def export(folder, dest):
    os.makedirs(dest, exist_ok=True)
    count = 0
    for id in folder.objectIds():
        ob = folder._getOb(id)
        path = os.path.join(dest, id)
        if is_folder(ob):
            count += export(ob, path)
        else:
            with open(path, 'wb') as f:
                read_chain(ob, f)
        os.utime(path, (ob._p_mtime, ob._p_mtime))
        count += 1
        if count % 1000 == 0:
            ob._p_jar.cacheGC()
    return count


def cmd_export(args):
    db, conn, app = open_app(args.datafs)
    count = export(traverse(app, args.path), args.dest)
    emit({'entries': count})
    conn.close()
    db.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    for name in ('read', 'list'):
        s = sub.add_parser(name)
        s.add_argument('datafs')
        s.add_argument('path')
        s.add_argument('--passes', type=int, default=2)
    s = sub.add_parser('export')
    s.add_argument('datafs')
    s.add_argument('path')
    s.add_argument('dest')
    args = p.parse_args()
    {'read': cmd_read, 'list': cmd_list, 'export': cmd_export}[args.command](args)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Open a Data.fs with the real ZODB and Zope packages and report what Zope
sees, plus every consistency check ZODB ships.

    verify_store.py DATA_FS [--no-index]

Prints one JSON document on stdout:

- ``entries``: every object reachable from ``root['Application']`` as
  zodbfs maps it (path, kind, class, meta_type, size, sha256 of the body
  read by walking ``File.data`` the way ``OFS.Image.File`` serves it,
  content_type, title, the ``_zodbfs_mode``/``_zodbfs_mtime`` attributes);
- ``problems``: what failed among
  * ``fstest.check`` (every record and transaction well formed);
  * ``fsrefs`` (no reference to a missing object);
  * ``Data.fs.index`` loads with ``fsIndex.load`` and its position is the
    end of the file (unless ``--no-index``);
  * for files up to 64 MiB, ``bytes(file)`` (Zope's ``File.__bytes__``)
    equals the walked body;
  * for every BTreeFolder2: ``BTrees.check.check`` on ``_tree`` and every
    ``_mt_index`` tree, ``_count()`` equals the number of items, and the
    meta_type index lists exactly the children of each meta_type;
  * every plain folder's ``_objects`` ids have the matching attribute.

Exits 0 when there are no problems, 1 otherwise.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures'))

import fixture_common as fc  # noqa: E402
from Acquisition import aq_base  # noqa: E402
from BTrees.check import check as check_btree  # noqa: E402
from ZODB import DB  # noqa: E402
from ZODB.FileStorage import FileStorage  # noqa: E402
from ZODB.fsIndex import fsIndex  # noqa: E402
from ZODB.scripts import fsrefs, fstest  # noqa: E402


def verify(datafs, use_index=True):
    problems = []
    try:
        fstest.check(datafs)
    except fstest.FormatError as e:
        problems.append('fstest: %s' % e)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        saved = sys.argv
        sys.argv = ['fsrefs', datafs]
        try:
            fsrefs.main(datafs)
        finally:
            sys.argv = saved
    if out.getvalue().strip():
        problems.append('fsrefs: %s' % out.getvalue().strip()[:2000])

    if use_index:
        try:
            info = fsIndex.load(datafs + '.index')
            if info['pos'] != os.path.getsize(datafs):
                problems.append('index: pos %d != file size %d'
                                % (info['pos'], os.path.getsize(datafs)))
        except Exception as e:  # noqa: BLE001 - report any failure
            problems.append('index: %r' % (e,))

    storage = FileStorage(datafs, read_only=True)
    db = DB(storage)
    entries = []
    try:
        conn = db.open()
        app = conn.root()['Application']
        check_folder(app, '', problems)
        for i, (path, obj) in enumerate(fc.walk(app)):
            entry = fc.entry_for(path, obj)
            entry.pop('data_bytes', None)
            base = aq_base(obj)
            d = fc.state_dict(base)
            entry['mode'] = d.get('_zodbfs_mode')
            entry['posix_mtime'] = d.get('_zodbfs_mtime')
            entry['id'] = base.getId()
            if entry['kind'] in ('file', 'image'):
                if entry['kind'] == 'file' and entry['size'] <= 64 << 20:
                    whole = bytes(base)
                    if hashlib.sha256(whole).hexdigest() != entry['sha256']:
                        problems.append('%s: bytes(file) differs from the walked chain' % path)
                if entry['id'] != path.rsplit('/', 1)[-1]:
                    problems.append('%s: id is %r' % (path, entry['id']))
            if entry['kind'] == 'folder':
                check_folder(obj, path, problems)
            entries.append(entry)
            if i % 500 == 0:
                conn.cacheGC()
        conn.close()
    finally:
        db.close()
    return entries, problems


def check_folder(folder, path, problems):
    base = aq_base(folder)
    d = fc.state_dict(base)
    if '_tree' in d:
        tree = base._tree
        try:
            check_btree(tree)
        except AssertionError as e:
            problems.append('%s: _tree: %s' % (path, e))
        items = list(tree.items())
        if base._count() != len(items):
            problems.append('%s: _count %d != %d items' % (path, base._count(), len(items)))
        by_type = {}
        for key, child in items:
            by_type.setdefault(getattr(aq_base(child), 'meta_type', None), set()).add(key)
        indexed = {}
        for meta_type, ids in base._mt_index.items():
            try:
                check_btree(ids)
            except AssertionError as e:
                problems.append('%s: _mt_index[%r]: %s' % (path, meta_type, e))
            if len(ids):
                indexed[meta_type] = set(ids.keys())
        if indexed != {k: v for k, v in by_type.items() if v}:
            problems.append('%s: _mt_index %r != children %r'
                            % (path, sorted((k, len(v)) for k, v in indexed.items()),
                               sorted((k, len(v)) for k, v in by_type.items())))
    else:
        for o in d.get('_objects', ()):
            if o['id'] not in d:
                problems.append('%s: _objects lists %r without an attribute' % (path, o['id']))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('datafs')
    p.add_argument('--no-index', action='store_true')
    args = p.parse_args(argv)
    entries, problems = verify(args.datafs, not args.no_index)
    json.dump({'entries': entries, 'problems': problems}, sys.stdout, indent=1)
    sys.stdout.write('\n')
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()

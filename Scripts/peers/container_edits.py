"""Zope's side of the container-editing tests: make edits with Zope's own
methods, store records made elsewhere, and describe folders as Zope sees
them, so the tests can compare what zodbfs writes with what Zope writes.

Every command opens DATA_FS for writing (Zope's startup does): give it a
copy, never a shared fixture.

usage:
  container_edits.py apply DATA_FS OPS_JSON
      Commits one transaction to DATA_FS with Zope (Zope2.app()) applying
      OPS_JSON, a list of {"folder": PATH, "op": OP, ...}: PATH is '/'-
      separated below the Application ('' is the Application); OP is
        "add-folder" (id, title)   OFS.Folder.manage_addFolder
        "add-file" (id, data)      OFS.Image.manage_addFile, UTF-8 data
        "remove" (id)              folder._delObject(id)
        "rename" (id, new_id)      folder.manage_renameObject(id, new_id)
                                   (after a savepoint if the object is new)
  container_edits.py store DATA_FS RECORDS_JSON
      Commits one transaction with ZODB's FileStorage two-phase commit API
      (tpc_begin, store, tpc_vote, tpc_finish), storing raw records:
      RECORDS_JSON is a list of {"oid": hex16, "serial": hex16 or null,
      "data": hex}; a serial that is not the object's current one fails
      the store with a ConflictError.
  container_edits.py describe DATA_FS PATH...
      Prints JSON {PATH: description}. A plain folder: its objectIds(),
      _objects, the keys of its instance dict in order, the class of each
      child and the children whose getId() differs from their id. A
      BTreeFolder2: objectIds(), len(), _count(), objectIds(meta_type) for
      each meta type, the node layout and state form of _tree, _mt_index
      and each id set, the problems BTrees.check.check, tree._check() and
      BTreeFolder2._cleanup() find, and the children whose getId() differs.
  container_edits.py check-ids DATA_FS PATH IDS_JSON
      Prints, for each id of the JSON list IDS_JSON, the message of the
      BadRequest OFS.ObjectManager.checkValidId raises for the folder at
      PATH, or null when the id is accepted.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures'))
sys.path.insert(0, HERE)


def open_app(datafs, confdir):
    from build_zope_fixture import open_zope
    return open_zope(os.path.abspath(datafs), confdir)[1]


def resolve(app, path):
    obj = app
    for part in [p for p in path.split('/') if p]:
        obj = obj._getOb(part)
    return obj


def apply(datafs, ops_path):
    import transaction
    from AccessControl import SpecialUsers
    from AccessControl.SecurityManagement import newSecurityManager
    from AccessControl.SecurityManagement import noSecurityManager
    from OFS.Folder import manage_addFolder
    from OFS.Image import manage_addFile
    with open(ops_path) as f:
        ops = json.load(f)
    with tempfile.TemporaryDirectory() as confdir:
        app = open_app(datafs, confdir)
        # set once Zope has started
        system = SpecialUsers.system
        try:
            for op in ops:
                folder = resolve(app, op['folder'])
                kind = op['op']
                if kind == 'add-folder':
                    manage_addFolder(folder, op['id'], title=op.get('title', ''))
                elif kind == 'add-file':
                    manage_addFile(folder, op['id'], file=op['data'].encode('utf-8'))
                elif kind == 'remove':
                    folder._delObject(op['id'])
                elif kind == 'rename':
                    # Zope moves only objects that have a jar (cb_isMoveable):
                    # one added in this transaction needs a savepoint first.
                    if folder._getOb(op['id'])._p_jar is None:
                        transaction.savepoint(optimistic=True)
                    # manage_renameObject checks the user may move the object
                    newSecurityManager(None, system)
                    try:
                        folder.manage_renameObject(op['id'], op['new_id'])
                    finally:
                        noSecurityManager()
                else:
                    raise SystemExit('unknown op %r' % (kind,))
            t = transaction.get()
            t.note('container_edits apply')
            t.commit()
        except BaseException:
            transaction.abort()
            raise
        finally:
            db = app._p_jar.db()
            app._p_jar.close()
            db.close()


def store(datafs, records_path):
    from ZODB.Connection import TransactionMetaData
    from ZODB.FileStorage import FileStorage
    from ZODB.utils import z64
    with open(records_path) as f:
        records = json.load(f)
    storage = FileStorage(datafs)
    try:
        t = TransactionMetaData(user='zodbfs-test', description='container_edits store')
        storage.tpc_begin(t)
        for r in records:
            serial = bytes.fromhex(r['serial']) if r['serial'] else z64
            storage.store(bytes.fromhex(r['oid']), serial, bytes.fromhex(r['data']), '', t)
        storage.tpc_vote(t)
        storage.tpc_finish(t)
    finally:
        storage.close()


def tree_description(tree):
    from btree_layout import layout
    state = tree.__getstate__()
    if state is None:
        form = 'none'
    elif len(state) == 1:
        form = 'inline'
    else:
        form = 'nodes'
    return {'form': form, 'layout': layout(tree)}


def tree_problems(name, tree):
    from BTrees.check import check
    problems = []
    try:
        tree._check()
        check(tree)
    except AssertionError as e:
        problems.append('%s: %s' % (name, e))
    return problems


def describe_folder(folder):
    from Acquisition import aq_base
    base = aq_base(folder)
    out = {'ids': list(folder.objectIds())}
    mismatched = []
    for id in out['ids']:
        child = aq_base(folder._getOb(id))
        if child.getId() != id:
            mismatched.append(id)
    out['id_mismatches'] = mismatched
    if hasattr(base, '_tree') and base._tree is not None:
        out['kind'] = 'btree'
        out['len'] = len(folder)
        out['count'] = base._count()
        out['tree'] = tree_description(base._tree)
        out['mt_index'] = tree_description(base._mt_index)
        out['by_meta_type'] = {mt: list(folder.objectIds(mt)) for mt in base._mt_index.keys()}
        out['id_sets'] = {mt: tree_description(ids) for mt, ids in base._mt_index.items()}
        problems = tree_problems('_tree', base._tree)
        problems += tree_problems('_mt_index', base._mt_index)
        for mt, ids in base._mt_index.items():
            problems += tree_problems('_mt_index[%r]' % mt, ids)
        if len(base._tree) != base._count():
            problems.append('len(_tree) %d != _count() %d' % (len(base._tree), base._count()))
        if base._cleanup() != 1:
            problems.append('_cleanup() found damage')
        out['problems'] = problems
    else:
        out['kind'] = 'folder'
        out['objects'] = [dict(o) for o in base._objects]
        out['state_keys'] = list(base.__dict__.keys())
        out['children'] = {id: '%s.%s' % (type(aq_base(folder._getOb(id))).__module__,
                                           type(aq_base(folder._getOb(id))).__name__)
                           for id in out['ids']}
    return out


def describe(datafs, paths):
    with tempfile.TemporaryDirectory() as confdir:
        app = open_app(datafs, confdir)
        try:
            out = {path: describe_folder(resolve(app, path)) for path in paths}
        finally:
            db = app._p_jar.db()
            app._p_jar.close()
            db.close()
    json.dump(out, sys.stdout)


def check_ids(datafs, path, ids_path):
    from OFS.ObjectManager import checkValidId
    with open(ids_path) as f:
        ids = json.load(f)
    with tempfile.TemporaryDirectory() as confdir:
        app = open_app(datafs, confdir)
        try:
            folder = resolve(app, path)
            out = []
            for id in ids:
                try:
                    checkValidId(folder, id)
                    out.append(None)
                except Exception as e:  # noqa: BLE001 - BadRequest, reported as text
                    out.append(str(e.args[0]) if e.args else str(e))
        finally:
            db = app._p_jar.db()
            app._p_jar.close()
            db.close()
    json.dump(out, sys.stdout)


def main(argv):
    if len(argv) >= 3 and argv[0] == 'apply':
        apply(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == 'store':
        store(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == 'check-ids':
        check_ids(argv[1], argv[2], argv[3])
    elif len(argv) >= 2 and argv[0] == 'describe':
        describe(argv[1], argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])

"""Builds a Data.fs that exercises every rule of ZODB's pack, with the real
ZODB, and prints a pack time in its middle.

    make_pack_store.py DATA_FS [--objects N]

The history, oldest first:
- a root mapping with nested PersistentMappings, an OOBTree big enough to
  have buckets (referenced from the root), and N small objects;
- many revisions of some objects (history), objects made garbage (removed
  from their container), an object whose creation is undone (a record
  with a zero backpointer), an undo of a modification (a backpointer);
- then the pack time, printed as JSON {"pack_time": seconds (float),
  "last_tid": hex}: half-way through;
- after it: more modifications, an undo whose backpointer points before
  the pack time (to a revision that is not the one current then), an undo
  of a transaction after the pack time, an undo that points back at the
  revision current at the pack time, new objects and more garbage.
"""
import json
import sys
import time

import transaction
import ZODB
from BTrees.OOBTree import OOBTree
from persistent import Persistent
from persistent.mapping import PersistentMapping
from ZODB.FileStorage import FileStorage
from ZODB.utils import u64


class Item(Persistent):
    def __init__(self, value, other=None):
        self.value = value
        self.other = other


def commit(note):
    t = transaction.get()
    t.note(note)
    t.commit()


def last_tid(db):
    return db.storage.lastTransaction()


def undo(db, description, note):
    """Undoes the newest transaction with that description."""
    ids = [d['id'] for d in db.undoLog(0, 200) if d['description'] == description]
    db.undo(ids[0])
    commit(note)


def main(path, count):
    db = ZODB.DB(FileStorage(path))
    conn = db.open()
    root = conn.root()
    root['tree'] = OOBTree()
    root['items'] = PersistentMapping()
    root['history'] = Item(0)
    commit('create containers')
    for i in range(count):
        root['tree']['k%06d' % i] = Item(i)
        if i % 3 == 0:
            root['items']['i%06d' % i] = Item(i, other=Item(-i))
    commit('fill')
    for revision in range(1, 6):
        root['history'].value = revision
        commit('history %d' % revision)
    # Garbage: removed from their containers.
    for i in range(0, count, 2):
        del root['tree']['k%06d' % i]
    commit('garbage from the tree')
    for key in list(root['items'])[::2]:
        del root['items'][key]
    commit('garbage from the mapping')
    # A modification, then its undo: a backpointer.
    root['history'].value = 'to be undone'
    commit('modify history')
    undo(db, 'modify history', 'undo modify history')
    # An object whose creation is undone (George Bailey).
    root['bailey'] = Item('bailey')
    commit('create bailey')
    undo(db, 'create bailey', 'undo create bailey')
    # An object modified, then dropped: garbage at the pack time.
    root['x'] = Item('x1')
    commit('create x')
    root['x'].value = 'x2'
    commit('modify x')
    del root['x']
    commit('drop x')
    root['steady'] = Item('steady at the pack time')
    commit('create steady')
    before_revision = last_tid(db)
    root['history'].value = 'current at the pack time'
    commit('set history before the pack time')
    time.sleep(0.05)
    pack_time = time.time()
    time.sleep(0.05)
    # After the pack time. Undo the transaction that set the revision
    # current at the pack time: a backpointer to an earlier revision of a
    # reachable object (ZODB's reach_ex). Undo the modification of the
    # unreachable x: a backpointer to an old revision of garbage.
    undo(db, 'set history before the pack time', 'undo to before the pack time')
    undo(db, 'modify x', 'undo modify x after the pack time')
    conn.sync()
    root['history'].value = 'after'
    commit('modify after the pack time')
    root['after'] = Item('new', other=Item('new other'))
    commit('new objects after the pack time')
    root['after'].value = 'changed'
    commit('change after')
    undo(db, 'change after', 'undo change after')
    # A change after the pack time to an object as it was at the pack time,
    # undone: a backpointer to the revision current then, which ZODB's
    # reach_ex then names besides the walk.
    root['steady'].value = 'changed after the pack time'
    commit('change steady')
    undo(db, 'change steady', 'undo change steady')
    del root['tree']['k%06d' % 1]
    commit('more garbage after')
    out = {'pack_time': pack_time, 'last_tid': '%016x' % u64(last_tid(db)), 'before_revision': '%016x' % u64(before_revision)}
    conn.close()
    db.close()
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    args = sys.argv[1:]
    n = 3000
    if '--objects' in args:
        n = int(args[args.index('--objects') + 1])
    main(args[0], n)

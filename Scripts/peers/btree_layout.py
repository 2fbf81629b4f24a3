"""Applies a sequence of insertions and deletions to a fresh in-memory
BTrees OOBTree or OIBTree (the C implementation) and prints, as JSON, the
tree's node layout at each requested point, after checking it with
`tree._check()` and `BTrees.check.check`. The Swift tests apply the same
operations to their own BTree code and compare layouts.

usage: btree_layout.py OPS_JSON

OPS_JSON: {"family": "OO"|"OI",
           "ops": [["+", key], ["-", key], ["="], ...]}
"+" sets tree[key] (to the operation's index for OO, 1 for OI), "-"
deletes key, "=" records a snapshot.

Output: [layout, ...], one per "=": a bucket is {"b": [keys]}, an interior
node {"k": [separator keys], "c": [child layouts]}; an empty tree is
{"k": [], "c": []}.
"""
import json
import sys

from BTrees.check import check
from BTrees.OIBTree import OIBTree
from BTrees.OOBTree import OOBTree


def layout(node):
    """The node structure, read from __getstate__ (BTree_getstate)."""
    state = node.__getstate__()
    if isinstance(node, (OOBTree, OIBTree)):
        if state is None:
            return {'k': [], 'c': []}
        items = state[0]
        if len(state) == 1:
            # one bucket, stored inline: ((bucket_state,),)
            return {'k': [], 'c': [{'b': list(items[0][0][::2])}]}
        children = [layout(c) for c in items[::2]]
        return {'k': list(items[1::2]), 'c': children}
    return {'b': list(state[0][::2])}


def main(path):
    with open(path) as f:
        spec = json.load(f)
    tree = OOBTree() if spec['family'] == 'OO' else OIBTree()
    out = []
    for i, op in enumerate(spec['ops']):
        if op[0] == '+':
            tree[op[1]] = i if spec['family'] == 'OO' else 1
        elif op[0] == '-':
            del tree[op[1]]
        elif op[0] == '=':
            tree._check()
            check(tree)
            out.append(layout(tree))
        else:
            raise SystemExit('unknown operation %r' % (op,))
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])

"""Loads pickles with zodbpickle and pickles the result again the way ZODB
does (zodbpickle's Pickler, protocol 3, one pickler for the pickles of a
record so they share a memo), so a test can check that a pickle it wrote
is the one Python writes for the same objects.

usage: repickle.py CASES_JSON

CASES_JSON is a file with a JSON list of hex strings; each holds one or
more pickles back to back (a ZODB record: class pickle, state pickle).

Classes that cannot be imported are made up (an empty class in a module of
that name), which is enough for a class that is only named, never called.
Persistent ids load as a stand-in and pickle again as a new tuple (or
list) each time, as ZODB's `persistent_id` returns them.  Prints the JSON
list of results: {"hex": re-pickled bytes, "repr": repr of what loaded}.
"""
import importlib
import io
import json
import sys
import types

import zodbpickle.pickle


class Reference:
    def __init__(self, pid):
        self.pid = pid

    def __repr__(self):
        return 'Reference(%r)' % (self.pid,)


class Unpickler(zodbpickle.pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            made_up = sys.modules.setdefault(module, types.ModuleType(module))
            if not hasattr(made_up, name):
                setattr(made_up, name, type(name, (), {'__module__': module}))
            return getattr(made_up, name)


def fresh(pid):
    if isinstance(pid, tuple):
        return tuple(list(pid))
    if isinstance(pid, list):
        return [fresh(item) for item in pid]
    return pid


def repickle(data):
    stream = io.BytesIO(data)
    unpickler = Unpickler(stream, encoding='ASCII', errors='bytes')
    unpickler.persistent_load = Reference
    values = []
    while stream.tell() < len(data):
        values.append(unpickler.load())
    out = io.BytesIO()
    pickler = zodbpickle.pickle.Pickler(out, 3)
    pickler.persistent_id = lambda obj: fresh(obj.pid) if isinstance(obj, Reference) else None
    for value in values:
        pickler.dump(value)
    return {'hex': out.getvalue().hex(), 'repr': repr(values)}


def main():
    with open(sys.argv[1]) as cases:
        json.dump([repickle(bytes.fromhex(h)) for h in json.load(cases)], sys.stdout)


if __name__ == '__main__':
    main()

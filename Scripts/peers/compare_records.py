"""Checks that records re-encoded by zodbfs load in Python as the originals do.

usage: compare_records.py PAIRS_FILE

PAIRS_FILE holds, back to back, for each record: the oid (8 bytes), then
the original record and the re-encoded one, each as a 4-byte big-endian
length and the bytes.  Both are loaded the way ZODB's `ObjectReader` does —
one zodbpickle Unpickler (`encoding='ASCII', errors='bytes'`) for the class
pickle and the state pickle — but with every class replaced by a stand-in
that records how it was called and what `BUILD`, `APPENDS` and `SETITEMS`
gave it, so any record loads without the classes being importable and the
comparison is structural (types, dict key order, reference tuples).  Also
compares `referencesf` and `get_pickle_metadata`.

Prints JSON: {"checked": N, "mismatches": [{"oid": hex, "reason": str}]}.
"""
import io
import json
import struct
import sys

import zodbpickle.pickle
from ZODB.serialize import referencesf
from ZODB.utils import get_pickle_metadata


class Stand_in:
    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args = args
        self.kwargs = kwargs
        self.state = None
        self.items = []
        self.dictitems = []
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def append(self, item):
        self.items.append(item)

    def extend(self, items):
        self.items.extend(items)

    def __setitem__(self, key, value):
        self.dictitems.append((key, value))


_classes = {}


def stand_in_class(module, name):
    key = (module, name)
    if key not in _classes:
        _classes[key] = type('Stand_in', (Stand_in,), {'qualified': key})
    return _classes[key]


class Reference:
    def __init__(self, pid):
        self.pid = pid


class Unpickler(zodbpickle.pickle.Unpickler):
    def find_class(self, module, name):
        return stand_in_class(module, name)

    def persistent_load(self, pid):
        return Reference(pid)


def canon(value):
    """A comparable form that keeps types, dict order and float bits."""
    if isinstance(value, Reference):
        return ('ref', canon(value.pid))
    if isinstance(value, type) and issubclass(value, Stand_in):
        return ('class', value.qualified)
    if isinstance(value, Stand_in):
        return ('object', type(value).qualified, canon(value.args),
                canon(value.kwargs), canon(value.state), canon(value.items),
                canon(value.dictitems))
    if isinstance(value, float):
        return ('float', value.hex())
    if isinstance(value, bool) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, (int, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, tuple):
        return ('tuple',) + tuple(canon(v) for v in value)
    if isinstance(value, list):
        return ('list',) + tuple(canon(v) for v in value)
    if isinstance(value, dict):
        return ('dict',) + tuple((canon(k), canon(v)) for k, v in value.items())
    raise TypeError('unexpected %r' % type(value))


def load(record):
    unpickler = Unpickler(io.BytesIO(record), encoding='ASCII', errors='bytes')
    return canon(unpickler.load()), canon(unpickler.load())


def main(path):
    data = open(path, 'rb').read()
    pos = 0
    checked = 0
    mismatches = []
    while pos < len(data):
        oid = data[pos:pos + 8]
        pos += 8
        records = []
        for _ in range(2):
            (length,) = struct.unpack('>I', data[pos:pos + 4])
            records.append(data[pos + 4:pos + 4 + length])
            pos += 4 + length
        original, ours = records
        checked += 1
        try:
            if load(original) != load(ours):
                mismatches.append({'oid': oid.hex(), 'reason': 'state differs'})
            elif referencesf(original) != referencesf(ours):
                mismatches.append({'oid': oid.hex(), 'reason': 'references differ'})
            elif get_pickle_metadata(original) != get_pickle_metadata(ours):
                mismatches.append({'oid': oid.hex(), 'reason': 'class differs'})
        except Exception as e:
            mismatches.append({'oid': oid.hex(), 'reason': repr(e)})
    json.dump({'checked': checked, 'mismatches': mismatches}, sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1])

/// A decoded pickle value tree.
///
/// Nothing is imported or instantiated: classes stay `.global(module:name:)`, instances stay
/// `.object` with the callable, arguments and `BUILD` state that would have made them, and ZODB
/// references stay `.persistentID`. That is all the object layer needs to interpret a record, and it
/// keeps decoding free of any registry of Python classes.
///
/// Only the cases that hold another single value are `indirect`; sequences already live behind an
/// array buffer, and keeping scalars and strings inline avoids one heap box per decoded value.
public enum PickleValue: Sendable, Equatable {
    /// `NONE`.
    case none
    /// `NEWTRUE`/`NEWFALSE`, and protocol 0's `INT` with the operands `01`/`00`.
    case bool(Bool)
    /// Any integer opcode whose value fits 64 bits (`BININT*`, `INT`, `LONG`, `LONG1`, `LONG4`).
    case int(Int64)
    /// An integer that does not fit `Int64`: little-endian two's-complement bytes, exactly as
    /// `LONG1`/`LONG4` carry them (for text `INT`/`LONG`, the minimal such encoding).
    case bigInt([UInt8])
    /// `FLOAT`/`BINFLOAT`.
    case float(Double)
    /// `BINUNICODE`, `SHORT_BINUNICODE`, `BINUNICODE8`, `UNICODE`; and the Python 2 string opcodes
    /// `BINSTRING`, `SHORT_BINSTRING`, `STRING` when their content is pure ASCII, which is what ZODB's
    /// `encoding='ASCII', errors='bytes'` makes of them.
    case string(String)
    /// `BINBYTES`, `SHORT_BINBYTES`, `BINBYTES8`, `BYTEARRAY8`, and non-ASCII Python 2 strings.
    case bytes([UInt8])
    /// A bytes payload left in place because it is at least the decoder's `largeBytesThreshold`.
    /// `offset` is absolute within the pickle input; the bytes are `input[offset ..< offset + length]`.
    case byteRange(offset: Int, length: Int)
    case tuple([PickleValue])
    case list([PickleValue])
    /// Entries in insertion order, which is the order of `SETITEM`s in the pickle.
    case dict([PickleDictEntry])
    case set([PickleValue])
    case frozenSet([PickleValue])
    /// `GLOBAL`/`STACK_GLOBAL`/`INST`'s class: a dotted module path and a (possibly dotted) name.
    indirect case global(module: String, name: String)
    /// The argument of `PERSID`/`BINPERSID`. In ZODB records this is a reference to another object:
    /// `(oid, class)`, a bare `oid`, or a list form (`['w', …]`, `['m', …]`, `['n', …]`).
    indirect case persistentID(PickleValue)
    /// `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST` or `OBJ`, with whatever `BUILD`, `APPEND(S)` and
    /// `SETITEM(S)` added to it afterwards.
    indirect case object(PickleObject)
}

/// One `key: value` of a pickled dict. A dict is kept as an array of entries rather than a Swift
/// `Dictionary` because pickled keys need not be hashable in Swift terms and their order matters
/// for reproducing Python's iteration order.
public struct PickleDictEntry: Sendable, Equatable {
    public var key: PickleValue
    public var value: PickleValue

    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

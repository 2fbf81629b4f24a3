/// Shortcuts for the shapes ZODB states actually have, so the object layer reads
/// `state["title"]?.stringValue` instead of nesting `switch`es. Each returns nil for any other shape.
extension PickleValue {
    /// The value of the last entry whose key is the string `key`. Python keeps the last value
    /// `SETITEM` gave a key, so a (malformed) pickle that repeats a key reads the same here.
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let entries) = self else { return nil }
        for entry in entries.reversed() {
            if case .string(let candidate) = entry.key, candidate == key {
                return entry.value
            }
        }
        return nil
    }

    public var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// `.int` only; a `.bool` is not an int here even though Python's `bool` subclasses `int`.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// `.float`, or an `.int` widened, as Python arithmetic would.
    public var doubleValue: Double? {
        switch self {
        case .float(let value): return value
        case .int(let value): return Double(value)
        default: return nil
        }
    }

    /// The payload of `.bytes`, or of bytes as protocols 0–2 write them (see `latin1EncodedBytes`).
    /// Nil for `.byteRange`: those bytes were deliberately not read.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return latin1EncodedBytes
    }

    /// `.bytes`, or a pure-ASCII `.string` as bytes: ZODB's `ascii_bytes`. Protocol 1 records store
    /// oids as Python 2 `str` (`SHORT_BINSTRING`), which load as text whenever the oid is ASCII,
    /// as almost every oid is (`\x00…\x0b`).
    public var asciiBytes: [UInt8]? {
        switch self {
        case .bytes(let value):
            return value
        case .string(let text):
            let utf8 = Array(text.utf8)
            return utf8.allSatisfy { $0 < 0x80 } ? utf8 : nil
        default:
            return nil
        }
    }

    /// Elements of a tuple or a list; pickles use either for sequences of children.
    public var tupleElements: [PickleValue]? {
        switch self {
        case .tuple(let elements), .list(let elements): return elements
        default: return nil
        }
    }

    public var dictEntries: [PickleDictEntry]? {
        if case .dict(let entries) = self { return entries }
        return nil
    }

    public var objectValue: PickleObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var globalName: (module: String, name: String)? {
        if case .global(let module, let name) = self { return (module, name) }
        return nil
    }

    public var persistentIDArgument: PickleValue? {
        if case .persistentID(let argument) = self { return argument }
        return nil
    }

    /// Python 3 `bytes` as pickle protocols 0–2 store them, which have no bytes opcode:
    /// `_codecs.encode(str(b, 'latin1'), 'latin1')` through `REDUCE`, and `bytes()` (`__builtin__`
    /// or `builtins`) for the empty value. ZODB itself always writes protocol 3, but other pickles
    /// stored in a record (or an old export) may use these forms.
    public var latin1EncodedBytes: [UInt8]? {
        guard case .object(let object) = self, !object.isNewObj, object.state == nil,
              case .global(let module, let name) = object.callable,
              case .tuple(let arguments) = object.arguments
        else { return nil }
        if module == "_codecs", name == "encode", arguments.count == 2,
           case .string(let text) = arguments[0], case .string("latin1") = arguments[1] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.unicodeScalars.count)
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { return nil }
                bytes.append(UInt8(scalar.value))
            }
            return bytes
        }
        if module == "builtins" || module == "__builtin__", name == "bytes", arguments.isEmpty {
            return []
        }
        return nil
    }
}

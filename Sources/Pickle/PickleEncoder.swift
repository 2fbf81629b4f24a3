/// Encodes `PickleValue` trees as protocol-3 pickles, opcode for opcode as zodbpickle's C `Pickler`
/// writes them (`_pickle_33.c`, which ZODB 6 uses through `ZODB/_compat.py`).
///
/// A ZODB record is two pickles from one pickler (`ObjectWriter._dump`: class metadata, then state),
/// so the memo outlives a single pickle: call `encode` once per pickle and the state pickle says
/// `BINGET 0` for the class the metadata pickle stored with `BINPUT 0`, as Python's does.
///
/// Python memoizes by object identity, which a value tree no longer has. The encoder stands in for
/// identity with equality where Python's objects are shared in practice:
/// - strings, bytes and globals are memoized by value (their UTF-8 or bytes, not Swift's canonical
///   string equivalence). Instance-dict keys are interned, a class is one object, a child's id is the
///   same string in `_objects` and as the attribute name, and CPython shares `''`, `b''` and
///   one-character values: all of that is reused by value;
/// - tuples made only of such values (and of such tuples) are memoized by value, except where
///   Python always builds a fresh tuple: the argument of a persistent id (`ObjectWriter.persistent_id`
///   returns a new `(oid, class)` each time, so a second reference re-emits it with `BINGET`s for the
///   oid and the class), and an object's arguments and `BUILD` state (made by `__reduce__` and
///   `__getstate__` on every call);
/// - lists, dicts, sets and instances are never reused; every one gets its own memo entry, as in Python.
///
/// That reproduces records Python wrote in one go byte for byte (every File, Pdata, bucket and
/// Length of a Zope database; folders unless they were loaded and saved again). Where Python's
/// sharing is not a matter of equality — two equal strings that are distinct objects, one list or
/// instance stored in two places — the bytes differ but load to equal values.
///
/// Values Python cannot have written are refused with a `PickleError` whose `offset` is the output
/// position: `.byteRange` (its bytes were left in the decoder's input), module or class names with a
/// newline, and strings or bytes of 4 GiB or more. After a throw the encoder's state is unspecified.
public struct PickleEncoder: Sendable {
    /// `pickle.Pickler._BATCHSIZE`: `APPENDS`/`SETITEMS` carry at most this many items.
    static let batchSize = 1000

    /// Every pickle encoded so far, back to back.
    public private(set) var bytes: [UInt8] = []
    private var memo: [MemoKey: Int] = [:]
    /// Entries assigned so far, including those of values that are never looked up again.
    private var memoCount = 0

    public init() {}

    /// Appends one complete pickle, `PROTO 3` … `STOP`. The memo is shared with earlier calls.
    public mutating func encode(_ value: PickleValue) throws(PickleError) {
        bytes.append(Opcode.proto.rawValue)
        bytes.append(3)
        try save(value, fresh: false, level: 0)
        bytes.append(Opcode.stop.rawValue)
    }

    // MARK: - Values

    /// - Parameter fresh: the value is a tuple Python builds anew for this occurrence, so it can never
    ///   be found in the memo (it is still stored there).
    private mutating func save(_ value: PickleValue, fresh: Bool, level: Int) throws(PickleError) {
        guard level <= PickleDecoder.maximumNestingDepth else {
            throw PickleError(.nestingTooDeep(limit: PickleDecoder.maximumNestingDepth), at: bytes.count)
        }
        switch value {
        // Atoms: never memoized (`save` handles them before it looks at the memo).
        case .none:
            emit(.none)
        case .bool(let flag):
            emit(flag ? .newTrue : .newFalse)
        case .int(let number):
            saveInteger(number)
        case .bigInt(let twosComplement):
            saveInteger(twosComplement: twosComplement)
        case .float(let number):
            emit(.binFloat)
            let pattern = number.bitPattern
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: pattern >> shift)) }

        case .string(let text):
            let utf8 = Array(text.utf8)
            let key = MemoKey.text(utf8)
            if fetch(key) { return }
            try checkLength(utf8.count)
            emit(.binUnicode)
            appendLittleEndian(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
            put(key)
        case .bytes(let payload):
            let key = MemoKey.bytes(payload)
            if fetch(key) { return }
            try checkLength(payload.count)
            if payload.count < 256 {
                emit(.shortBinBytes)
                bytes.append(UInt8(payload.count))
            } else {
                emit(.binBytes)
                appendLittleEndian(UInt32(payload.count))
            }
            bytes.append(contentsOf: payload)
            put(key)
        case .byteRange:
            throw PickleError(
                .unexpectedValue("a byteRange cannot be encoded: its bytes were left in the decoder's input"),
                at: bytes.count
            )
        case .global(let module, let name):
            let key = MemoKey.global(module: Array(module.utf8), name: Array(name.utf8))
            if fetch(key) { return }
            guard !module.isEmpty, !name.isEmpty, !module.utf8.contains(0x0A), !name.utf8.contains(0x0A) else {
                throw PickleError(.invalidOperand("a GLOBAL name must be a non-empty line"), at: bytes.count)
            }
            emit(.global)
            bytes.append(contentsOf: module.utf8)
            bytes.append(0x0A)
            bytes.append(contentsOf: name.utf8)
            bytes.append(0x0A)
            put(key)

        case .tuple(let elements):
            try saveTuple(elements, fresh: fresh, level: level)
        case .list(let elements):
            emit(.emptyList)
            putUnshared()
            try saveListItems(elements, level: level)
        case .dict(let entries):
            emit(.emptyDict)
            putUnshared()
            try saveDictItems(entries, level: level)
        case .set(let elements):
            // Protocol 3 has no set opcodes: `set.__reduce__` is `(set, (list(self),), None)`.
            try saveReduce(module: "builtins", name: "set", elements, level: level)
        case .frozenSet(let elements):
            try saveReduce(module: "builtins", name: "frozenset", elements, level: level)
        case .persistentID(let argument):
            // ObjectWriter.persistent_id builds the `(oid, class)` tuple (or `['w', (oid,)]`'s tuple) per call.
            if case .list(let parts) = argument {
                emit(.emptyList)
                putUnshared()
                try saveListItems(parts, level: level + 1, freshTuples: true)
            } else {
                try save(argument, fresh: true, level: level + 1)
            }
            emit(.binPersID)
        case .object(let object):
            try saveObject(object, level: level)
        }
    }

    /// `save_int`/`save_long`: `BININT1`/`BININT2`/`BININT` for 32-bit values, else `LONG1` with the
    /// shortest two's-complement bytes.
    private mutating func saveInteger(_ number: Int64) {
        if number >= 0, number <= 0xFF {
            emit(.binInt1)
            bytes.append(UInt8(number))
        } else if number >= 0, number <= 0xFFFF {
            emit(.binInt2)
            appendLittleEndian(UInt16(number))
        } else if number >= Int64(Int32.min), number <= Int64(Int32.max) {
            emit(.binInt)
            appendLittleEndian(UInt32(truncatingIfNeeded: number))
        } else {
            let pattern = UInt64(bitPattern: number)
            saveLong((0 ..< 8).map { UInt8(truncatingIfNeeded: pattern >> (8 * $0)) })
        }
    }

    private mutating func saveInteger(twosComplement: [UInt8]) {
        let minimal = Self.minimal(twosComplement)
        guard minimal.count <= 4 else {
            saveLong(minimal)
            return
        }
        // A `.bigInt` that fits 32 bits is an ordinary int to Python.
        var pattern: UInt32 = minimal.last.map { $0 & 0x80 == 0 ? 0 : .max } ?? 0
        for (index, byte) in minimal.enumerated() {
            pattern = pattern & ~(0xFF << (8 * index)) | UInt32(byte) << (8 * index)
        }
        saveInteger(Int64(Int32(bitPattern: pattern)))
    }

    /// `LONG1`/`LONG4` with the shortest two's-complement bytes, which is what `save_long` computes.
    private mutating func saveLong(_ twosComplement: [UInt8]) {
        let minimal = Self.minimal(twosComplement)
        if minimal.count < 256 {
            emit(.long1)
            bytes.append(UInt8(minimal.count))
        } else {
            emit(.long4)
            appendLittleEndian(UInt32(minimal.count))
        }
        bytes.append(contentsOf: minimal)
    }

    /// Little-endian two's-complement bytes without redundant sign bytes at the top.
    private static func minimal(_ twosComplement: [UInt8]) -> [UInt8] {
        var bytes = twosComplement
        while bytes.count > 1 {
            let last = bytes[bytes.count - 1]
            let signOfNext = bytes[bytes.count - 2] & 0x80
            guard (last == 0x00 && signOfNext == 0) || (last == 0xFF && signOfNext != 0) else { break }
            bytes.removeLast()
        }
        return bytes
    }

    /// `save_tuple`: `EMPTY_TUPLE` (not memoized), `TUPLE1`–`TUPLE3`, or `MARK … TUPLE`.
    private mutating func saveTuple(_ elements: [PickleValue], fresh: Bool, level: Int) throws(PickleError) {
        if elements.isEmpty {
            emit(.emptyTuple)
            return
        }
        let key = fresh ? nil : MemoKey.tuple(elements)
        if let key, fetch(key) { return }
        if elements.count > 3 { emit(.mark) }
        for element in elements {
            try save(element, fresh: false, level: level + 1)
        }
        switch elements.count {
        case 1: emit(.tuple1)
        case 2: emit(.tuple2)
        case 3: emit(.tuple3)
        default: emit(.tuple)
        }
        if let key { put(key) } else { putUnshared() }
    }

    /// `save_reduce` for a `set`/`frozenset`: the class, a fresh `(list,)`, `REDUCE`.
    private mutating func saveReduce(module: String, name: String, _ elements: [PickleValue], level: Int) throws(PickleError) {
        try save(.global(module: module, name: name), fresh: false, level: level + 1)
        emit(.emptyList)
        putUnshared()
        try saveListItems(elements, level: level + 1)
        emit(.tuple1)
        putUnshared()
        emit(.reduce)
        putUnshared()
    }

    /// `save_reduce`: `NEWOBJ` (callable then arguments) or `REDUCE`, the object's own memo entry,
    /// then `APPENDS`, `SETITEMS` and `BUILD` for what `__reduce__` returned after the arguments.
    ///
    /// `NEWOBJ_EX` does not exist in protocol 3; what Python writes there for keyword arguments is
    /// `copyreg.__newobj_ex__(cls, args, kwargs)` through `REDUCE` (`object.__reduce_ex__`), and so
    /// does this.
    private mutating func saveObject(_ object: PickleObject, level: Int) throws(PickleError) {
        if let keywordArguments = object.keywordArguments {
            try save(.global(module: "copyreg", name: "__newobj_ex__"), fresh: false, level: level + 1)
            try save(object.callable, fresh: false, level: level + 1)
            try save(object.arguments, fresh: true, level: level + 1)
            try save(keywordArguments, fresh: false, level: level + 1)
            emit(.tuple3)
            putUnshared()
            emit(.reduce)
        } else {
            try save(object.callable, fresh: false, level: level + 1)
            try save(object.arguments, fresh: true, level: level + 1)
            emit(object.isNewObj ? .newObj : .reduce)
        }
        putUnshared()
        if !object.listItems.isEmpty { try saveItems(object.listItems, level: level) }
        if !object.dictItems.isEmpty { try saveItems(object.dictItems, level: level) }
        if let state = object.state {
            try save(state, fresh: true, level: level + 1)
            emit(.build)
        }
    }

    // MARK: - Batches

    /// `batch_list_exact`: one item is `APPEND`; otherwise `MARK … APPENDS` per 1000 items.
    private mutating func saveListItems(_ items: [PickleValue], level: Int, freshTuples: Bool = false) throws(PickleError) {
        if items.isEmpty { return }
        if items.count == 1 {
            try save(items[0], fresh: freshTuples, level: level + 1)
            emit(.append)
            return
        }
        var index = 0
        repeat {
            emit(.mark)
            let end = min(index + Self.batchSize, items.count)
            while index < end {
                try save(items[index], fresh: freshTuples, level: level + 1)
                index += 1
            }
            emit(.appends)
        } while index < items.count
    }

    /// `batch_dict_exact`: one entry is `SETITEM`; otherwise `MARK … SETITEMS` per 1000 entries, and
    /// after a full last batch one more, empty, `MARK SETITEMS` (the C loop tests for the end only
    /// after it has written the next mark).
    private mutating func saveDictItems(_ entries: [PickleDictEntry], level: Int) throws(PickleError) {
        if entries.isEmpty { return }
        if entries.count == 1 {
            try save(entries[0].key, fresh: false, level: level + 1)
            try save(entries[0].value, fresh: false, level: level + 1)
            emit(.setItem)
            return
        }
        var index = 0
        var batch = 0
        repeat {
            emit(.mark)
            batch = 0
            while index < entries.count, batch < Self.batchSize {
                try save(entries[index].key, fresh: false, level: level + 1)
                try save(entries[index].value, fresh: false, level: level + 1)
                index += 1
                batch += 1
            }
            emit(.setItems)
        } while batch == Self.batchSize
    }

    /// `batch_list` (the iterator form `save_reduce` uses for list items): `MARK … APPENDS` per full
    /// batch, and a lone remaining item as `APPEND`.
    private mutating func saveItems(_ items: [PickleValue], level: Int) throws(PickleError) {
        var index = 0
        while index < items.count {
            if items.count - index == 1 {
                try save(items[index], fresh: false, level: level + 1)
                emit(.append)
                return
            }
            emit(.mark)
            let end = min(index + Self.batchSize, items.count)
            let full = end - index == Self.batchSize
            while index < end {
                try save(items[index], fresh: false, level: level + 1)
                index += 1
            }
            emit(.appends)
            if !full { return }
        }
    }

    /// `batch_dict` (the iterator form `save_reduce` uses for dict items), like `saveItems`.
    private mutating func saveItems(_ entries: [PickleDictEntry], level: Int) throws(PickleError) {
        var index = 0
        while index < entries.count {
            if entries.count - index == 1 {
                try save(entries[index].key, fresh: false, level: level + 1)
                try save(entries[index].value, fresh: false, level: level + 1)
                emit(.setItem)
                return
            }
            emit(.mark)
            let end = min(index + Self.batchSize, entries.count)
            let full = end - index == Self.batchSize
            while index < end {
                try save(entries[index].key, fresh: false, level: level + 1)
                try save(entries[index].value, fresh: false, level: level + 1)
                index += 1
            }
            emit(.setItems)
            if !full { return }
        }
    }

    // MARK: - Memo

    /// `BINGET`/`LONG_BINGET` if an equal value was stored; false otherwise.
    private mutating func fetch(_ key: MemoKey) -> Bool {
        guard let index = memo[key] else { return false }
        if index < 256 {
            emit(.binGet)
            bytes.append(UInt8(index))
        } else {
            emit(.longBinGet)
            appendLittleEndian(UInt32(index))
        }
        return true
    }

    /// `memo_put`: the next memo index, `BINPUT` below 256 and `LONG_BINPUT` from there.
    private mutating func put(_ key: MemoKey) {
        memo[key] = memoCount
        putUnshared()
    }

    /// A memo entry no later value can match (a list, dict, instance or fresh tuple).
    private mutating func putUnshared() {
        if memoCount < 256 {
            emit(.binPut)
            bytes.append(UInt8(memoCount))
        } else {
            emit(.longBinPut)
            appendLittleEndian(UInt32(memoCount))
        }
        memoCount += 1
    }

    // MARK: - Output

    private mutating func emit(_ opcode: Opcode) {
        bytes.append(opcode.rawValue)
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        for index in 0 ..< T.bitWidth / 8 {
            bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index)))
        }
    }

    private func checkLength(_ count: Int) throws(PickleError) {
        guard UInt64(count) <= UInt64(UInt32.max) else {
            throw PickleError(.unexpectedValue("a string or bytes of 4 GiB or more has no protocol 3 form"), at: bytes.count)
        }
    }
}

/// What the encoder's memo is keyed by: the bytes Python's objects would hold, so that equal values
/// share an entry and nothing else does (Swift's `String ==` would merge canonically equivalent text).
private enum MemoKey: Hashable {
    case text([UInt8])
    case bytes([UInt8])
    case global(module: [UInt8], name: [UInt8])
    case tupleOf([UInt8])

    /// Hashes the payloads as byte buffers: the synthesized conformance
    /// feeds an array to the hasher one element at a time, which dominated
    /// the cost of encoding a File record with 60 KiB of inline data.
    func hash(into hasher: inout Hasher) {
        func combine(_ tag: UInt8, _ bytes: [UInt8]) {
            hasher.combine(tag)
            hasher.combine(bytes.count)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
        switch self {
        case .text(let bytes): combine(0, bytes)
        case .bytes(let bytes): combine(1, bytes)
        case .global(let module, let name):
            combine(2, module)
            combine(3, name)
        case .tupleOf(let bytes): combine(4, bytes)
        }
    }

    /// A key for a tuple of immutable values, nil when the tuple holds anything else (a list, dict,
    /// set, instance or reference), which is never shared by value.
    static func tuple(_ elements: [PickleValue]) -> MemoKey? {
        var form: [UInt8] = []
        guard canonicalForm(of: .tuple(elements), into: &form, level: 0) else { return nil }
        return .tupleOf(form)
    }

    /// A tag-length-value form of an immutable value, false for anything else. Floats are compared by
    /// bit pattern (so `0.0` and `-0.0` stay apart, as distinct Python objects would).
    private static func canonicalForm(of value: PickleValue, into form: inout [UInt8], level: Int) -> Bool {
        guard level <= PickleDecoder.maximumNestingDepth else { return false }
        func append(_ tag: UInt8, _ payload: some Collection<UInt8>) {
            form.append(tag)
            let count = UInt64(payload.count)
            for index in 0 ..< 8 { form.append(UInt8(truncatingIfNeeded: count >> (8 * index))) }
            form.append(contentsOf: payload)
        }
        func littleEndian(_ pattern: UInt64) -> [UInt8] {
            (0 ..< 8).map { UInt8(truncatingIfNeeded: pattern >> (8 * $0)) }
        }
        switch value {
        case .none: form.append(0)
        case .bool(let flag): form.append(flag ? 2 : 1)
        case .int(let number): append(3, littleEndian(UInt64(bitPattern: number)))
        case .bigInt(let bytes): append(4, bytes)
        case .float(let number): append(5, littleEndian(number.bitPattern))
        case .string(let text): append(6, Array(text.utf8))
        case .bytes(let bytes): append(7, bytes)
        case .global(let module, let name):
            append(8, Array(module.utf8))
            append(9, Array(name.utf8))
        case .tuple(let elements):
            append(10, littleEndian(UInt64(elements.count)))
            for element in elements {
                guard canonicalForm(of: element, into: &form, level: level + 1) else { return false }
            }
        case .byteRange, .list, .dict, .set, .frozenSet, .persistentID, .object:
            return false
        }
        return true
    }
}

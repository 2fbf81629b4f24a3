/// Finds the oids a ZODB record refers to, the way pack and garbage collection need them.
///
/// This is `ZODB.serialize.referencesf`: both pickles of the record are walked with one memo, every
/// `PERSID`/`BINPERSID` argument is collected, and each becomes an oid:
/// - a tuple `(oid, class)` (the usual reference) → its first element;
/// - bytes, or an ASCII str, `oid` (a class with `__getnewargs__`) → itself;
/// - a list (`['w', …]` weak reference, `['m', …]`/`['n', …]` cross-database) → nothing, so weak and
///   cross-database references do not keep objects alive.
///
/// No value tree is built. The scanner keeps, per stack slot, only what could matter for a
/// persistent id (an 8-byte oid, a tuple's first element, "a list"), so a 64 KiB `Pdata` payload is
/// skipped by its length, never copied.
///
/// Where `referencesf` would fail, this is stricter in one way and more lenient in another: every
/// oid must be exactly 8 bytes (else `.invalidReference`), while a non-ASCII `SHORT_BINSTRING`
/// (Python 2 `str`), which makes `referencesf` raise `UnicodeDecodeError`, is read as bytes.
public enum ReferenceScanner {
    /// The oids `record` refers to, as big-endian integers, in pickle order, duplicates kept.
    ///
    /// - Parameter record: a data record: the class pickle followed by the state pickle. Like
    ///   `referencesf`, which calls `noload()` twice, the scan needs both; bytes after the second
    ///   `STOP` are ignored.
    /// - Throws: `PickleError` if the pickles are malformed or a reference is not an 8-byte oid.
    public static func references(in record: [UInt8]) throws(PickleError) -> [UInt64] {
        try references(in: PickleInput(record))
    }

    /// The same for a record of which only the head and tail were read: a `Pdata` payload in the
    /// middle is skipped by its length. Throws ``PickleError/Reason/unavailable`` when the scan needs
    /// a byte of the missing middle (then read the whole record).
    public static func references(in input: PickleInput) throws(PickleError) -> [UInt64] {
        var scan = Scan(input)
        try scan.scanPickle()
        try scan.scanPickle()
        return scan.references
    }
}

/// What the scanner remembers about a value.
private enum Shape {
    /// Nothing a persistent id can be: numbers, dicts, instances, classes, `None`.
    case other
    /// Any list; as a persistent id it is a weak or cross-database reference and is skipped.
    case list
    /// Bytes, or an ASCII str, of exactly 8 bytes, read as a big-endian oid.
    case oid(UInt64)
    /// Bytes or str that cannot be an oid (wrong length, or non-ASCII text).
    case text
    /// A tuple and its first element, when that element is an oid.
    case tuple(first: UInt64?)
}

private struct Scan {
    let input: PickleInput
    var position = 0
    var stack: [Shape] = []
    var marks: [Int] = []
    var memo = PickleMemo<Shape>(capacity: 32)
    var references: [UInt64] = []

    /// The stack and memo start with room for a typical record (a catalog
    /// entry, a BTree bucket): pack scans millions of them, one scan each.
    init(_ input: PickleInput) {
        self.input = input
        stack.reserveCapacity(32)
        marks.reserveCapacity(8)
        references.reserveCapacity(8)
    }

    /// Walks one pickle up to and including its `STOP`.
    mutating func scanPickle() throws(PickleError) {
        stack.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        while true {
            let start = position
            let code = try input.byte(at: start)
            guard let opcode = Opcode(rawValue: code) else { throw PickleError(.unknownOpcode(code), at: start) }
            position = start + 1
            if opcode == .stop {
                _ = try pop(start)
                return
            }
            try execute(opcode, at: start)
        }
    }

    private mutating func execute(_ opcode: Opcode, at start: Int) throws(PickleError) {
        switch opcode {
        case .stop:
            preconditionFailure("STOP is handled by scanPickle")
        case .mark:
            marks.append(stack.count)
        case .pop:
            if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop(start) }
        case .popMark:
            try dropToMark(start)
        case .dup:
            stack.append(try top(start))

        case .none, .newTrue, .newFalse:
            stack.append(.other)
        case .binInt1:
            try skip(1); stack.append(.other)
        case .binInt2:
            try skip(2); stack.append(.other)
        case .binInt:
            try skip(4); stack.append(.other)
        case .binFloat:
            try skip(8); stack.append(.other)
        case .int, .long, .float:
            _ = try readLine(); stack.append(.other)
        case .long1:
            try skip(Int(try readLittleEndian(width: 1)), at: start); stack.append(.other)
        case .long4:
            let length = Int32(truncatingIfNeeded: try readLittleEndian(width: 4))
            guard length >= 0 else { throw PickleError(.invalidOperand("LONG4 has a negative byte count"), at: start) }
            try skip(Int(length), at: start); stack.append(.other)

        // A str is an oid only if `oid.encode('ascii')` gives 8 bytes; bytes only if there are 8.
        case .binUnicode:
            stack.append(try payload(length: try readLittleEndian(width: 4), requireASCII: true, at: start))
        case .shortBinUnicode:
            stack.append(try payload(length: try readLittleEndian(width: 1), requireASCII: true, at: start))
        case .binUnicode8:
            stack.append(try payload(length: try readLittleEndian(width: 8), requireASCII: true, at: start))
        case .binBytes:
            stack.append(try payload(length: try readLittleEndian(width: 4), requireASCII: false, at: start))
        case .shortBinBytes, .shortBinString:
            stack.append(try payload(length: try readLittleEndian(width: 1), requireASCII: false, at: start))
        case .binBytes8:
            stack.append(try payload(length: try readLittleEndian(width: 8), requireASCII: false, at: start))
        case .binString:
            let length = Int32(truncatingIfNeeded: try readLittleEndian(width: 4))
            guard length >= 0 else {
                throw PickleError(.invalidOperand("BINSTRING has a negative byte count"), at: start)
            }
            stack.append(try payload(length: UInt64(length), requireASCII: false, at: start))
        case .byteArray8:
            // A bytearray is neither bytes nor str to referencesf.
            try skip(Int(try checkedLength(try readLittleEndian(width: 8), at: start)), at: start)
            stack.append(.other)
        case .string:
            let text = try readLine()
            guard text.count >= 2, let quote = text.first, quote == text.last,
                  quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")
            else { throw PickleError(.invalidOperand("the STRING opcode argument must be quoted"), at: start) }
            do throws(TextEscapes.Failure) {
                stack.append(Self.shape(of: try TextEscapes.escapeDecoded(text.dropFirst().dropLast())[...], requireASCII: false))
            } catch {
                throw PickleError(.invalidOperand("STRING: \(error.message)"), at: start)
            }
        case .unicode:
            let text = try readLine()
            do throws(TextEscapes.Failure) {
                let decoded = try TextEscapes.rawUnicodeEscapeDecoded(text)
                stack.append(Self.shape(of: Array(decoded.utf8)[...], requireASCII: true))
            } catch {
                throw PickleError(.invalidOperand("UNICODE: \(error.message)"), at: start)
            }

        case .emptyTuple:
            stack.append(.tuple(first: nil))
        case .tuple:
            stack.append(Self.tuple(startingWith: try popToMark(start).first))
        case .tuple1, .tuple2, .tuple3:
            let count = Int(opcode.rawValue - Opcode.tuple1.rawValue) + 1
            guard stack.count - floor >= count else { throw PickleError(.stackUnderflow, at: start) }
            let first = stack[stack.count - count]
            stack.removeLast(count)
            stack.append(Self.tuple(startingWith: first))
        case .emptyList:
            stack.append(.list)
        case .list:
            try dropToMark(start)
            stack.append(.list)
        case .emptyDict, .emptySet:
            stack.append(.other)
        case .dict, .frozenSet:
            try dropToMark(start)
            stack.append(.other)
        case .append, .setItem, .build:
            // The value (key and value, state) goes; the container stays.
            _ = try pop(start)
            if opcode == .setItem { _ = try pop(start) }
            _ = try top(start)
        case .appends, .setItems, .addItems:
            try dropToMark(start)
            _ = try top(start)

        case .global:
            _ = try readLine(); _ = try readLine(); stack.append(.other)
        case .inst:
            _ = try readLine(); _ = try readLine()
            try dropToMark(start)
            stack.append(.other)
        case .obj:
            guard try popToMark(start).count > 0 else { throw PickleError(.stackUnderflow, at: start) }
            stack.append(.other)
        case .stackGlobal, .reduce, .newObj:
            try drop(2, at: start); stack.append(.other)
        case .newObjEx:
            try drop(3, at: start); stack.append(.other)

        case .persID:
            // Protocol 0 persistent ids are text: an oid only if it is 8 ASCII characters.
            try record(Self.shape(of: try readLine(), requireASCII: true), at: start)
            stack.append(.other)
        case .binPersID:
            try record(try pop(start), at: start)
            stack.append(.other)

        case .get:
            try fetch(try memoKey(try readLine(), at: start), at: start)
        case .binGet:
            try fetch(Int(try readLittleEndian(width: 1)), at: start)
        case .longBinGet:
            try fetch(Int(try readLittleEndian(width: 4)), at: start)
        case .put:
            memo.store(try top(start), at: try memoKey(try readLine(), at: start))
        case .binPut:
            let key = Int(try readLittleEndian(width: 1))
            memo.store(try top(start), at: key)
        case .longBinPut:
            let key = Int(try readLittleEndian(width: 4))
            memo.store(try top(start), at: key)
        case .memoize:
            memo.store(try top(start), at: memo.count)

        case .proto:
            let version = UInt8(try readLittleEndian(width: 1))
            guard version <= Opcode.highestProtocol else { throw PickleError(.unsupportedProtocol(version), at: start) }
        case .frame:
            try skip(8)
        case .ext1, .ext2, .ext4, .nextBuffer, .readonlyBuffer:
            throw PickleError(.unsupportedOpcode(opcode), at: start)
        }
    }

    /// Applies `referencesf`'s rules to one persistent id.
    private mutating func record(_ persistentID: Shape, at start: Int) throws(PickleError) {
        switch persistentID {
        case .list:
            return
        case .oid(let oid), .tuple(first: .some(let oid)):
            references.append(oid)
        case .tuple(first: .none):
            throw PickleError(.invalidReference("reference tuple does not start with an 8-byte oid"), at: start)
        case .text:
            throw PickleError(.invalidReference("persistent id is not an 8-byte oid"), at: start)
        case .other:
            throw PickleError(.invalidReference("persistent id is not a tuple, an oid or a list"), at: start)
        }
    }

    private static func tuple(startingWith first: Shape?) -> Shape {
        if case .oid(let oid) = first { return .tuple(first: oid) }
        return .tuple(first: nil)
    }

    private static func shape(of bytes: ArraySlice<UInt8>, requireASCII: Bool) -> Shape {
        guard bytes.count == 8, !requireASCII || bytes.allSatisfy({ $0 < 0x80 }) else { return .text }
        return .oid(bytes.reduce(0) { $0 << 8 | UInt64($1) })
    }

    // MARK: - Stack

    private var floor: Int { marks.last ?? 0 }

    private mutating func pop(_ start: Int) throws(PickleError) -> Shape {
        guard stack.count > floor else { throw PickleError(.stackUnderflow, at: start) }
        return stack.removeLast()
    }

    private func top(_ start: Int) throws(PickleError) -> Shape {
        guard stack.count > floor else { throw PickleError(.stackUnderflow, at: start) }
        return stack[stack.count - 1]
    }

    private mutating func drop(_ count: Int, at start: Int) throws(PickleError) {
        guard stack.count - floor >= count else { throw PickleError(.stackUnderflow, at: start) }
        stack.removeLast(count)
    }

    /// Closes the innermost mark and returns the first value above it and how many there were.
    private mutating func popToMark(_ start: Int) throws(PickleError) -> (first: Shape?, count: Int) {
        guard let mark = marks.popLast() else { throw PickleError(.missingMark, at: start) }
        let first = mark < stack.count ? stack[mark] : nil
        let count = stack.count - mark
        stack.removeSubrange(mark...)
        return (first, count)
    }

    private mutating func dropToMark(_ start: Int) throws(PickleError) {
        guard let mark = marks.popLast() else { throw PickleError(.missingMark, at: start) }
        stack.removeSubrange(mark...)
    }

    private mutating func fetch(_ key: Int, at start: Int) throws(PickleError) {
        guard let shape = memo[key] else { throw PickleError(.memoKeyMissing(key), at: start) }
        stack.append(shape)
    }

    // MARK: - Operands

    private mutating func readLittleEndian(width: Int) throws(PickleError) -> UInt64 {
        let value = try input.littleEndian(at: position, width: width)
        position += width
        return value
    }

    private mutating func readLine() throws(PickleError) -> ArraySlice<UInt8> {
        let (text, next) = try input.line(at: position)
        position = next
        return text
    }

    /// Skips a fixed-width operand, which must be present.
    private mutating func skip(_ count: Int) throws(PickleError) {
        _ = try input.bytes(at: position, count: count)
        position += count
    }

    /// Skips a length-prefixed payload without reading it.
    private mutating func skip(_ count: Int, at start: Int) throws(PickleError) {
        guard count <= input.remaining(from: position) else {
            throw PickleError(.lengthBeyondInput(UInt64(count)), at: start)
        }
        position += count
    }

    private func checkedLength(_ length: UInt64, at start: Int) throws(PickleError) -> UInt64 {
        guard length <= UInt64(input.remaining(from: position)) else {
            throw PickleError(.lengthBeyondInput(length), at: start)
        }
        return length
    }

    /// A bytes or text payload: read only if it has the length of an oid.
    private mutating func payload(length: UInt64, requireASCII: Bool, at start: Int) throws(PickleError) -> Shape {
        let count = Int(try checkedLength(length, at: start))
        guard count == 8 else {
            position += count
            return .text
        }
        let bytes = try input.bytes(at: position, count: 8)
        position += 8
        return Self.shape(of: bytes, requireASCII: requireASCII)
    }

    private func memoKey(_ text: ArraySlice<UInt8>, at start: Int) throws(PickleError) -> Int {
        guard case .int(let key) = LongInteger.value(decimal: text), key >= 0, key <= Int64(UInt32.max) else {
            throw PickleError(.invalidOperand("memo key is not a small non-negative integer"), at: start)
        }
        return Int(key)
    }
}

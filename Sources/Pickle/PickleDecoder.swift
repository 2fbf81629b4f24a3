/// Decodes pickles (protocols 0–5) into `PickleValue` trees without running any Python semantics.
///
/// A ZODB record is two pickles written by one pickler (`ObjectWriter._dump`: class metadata, then
/// state), so the memo outlives a single pickle: the state pickle of an `OOBucket` or `Pdata` says
/// `BINGET 0` for the class the first pickle stored with `BINPUT 0`. Decode a record with one
/// decoder and two `decodeNext()` calls.
///
/// Every malformed input throws a `PickleError` carrying the offset: lengths are checked against the
/// input before anything is allocated, nesting is bounded by `maximumNestingDepth`, the size of the
/// value tree by ``valueLimit(inputLength:)``, and the memo never grows faster than the input. After
/// a throw the decoder's state is unspecified.
public struct PickleDecoder: Sendable {
    /// How deeply containers may nest in one decoded value. Real records stay in single digits;
    /// the bound keeps recursion over the result (including `==` and deallocation) safe.
    public static let maximumNestingDepth = 1000

    /// How many values a decoded tree may hold beyond one per input byte, counting a subtree the
    /// memo shares once per place it appears. Without sharing a pickle cannot describe more values
    /// than it has bytes, and ZODB records share little (a list referenced twice in one state); a
    /// pickle that nests `(t, t)` tuples forty deep in a few hundred bytes describes 2^40 values,
    /// and rendering, re-encoding or comparing that tree would never end. A pickle from CPython
    /// with more sharing than this is rejected with ``PickleError/Reason/tooManyValues(limit:)``.
    public static let sharedValueAllowance = 1 << 20

    private let input: PickleInput
    private let largeBytesThreshold: Int?
    /// Absolute offset of the next opcode.
    public private(set) var position = 0
    private var stack: [PendingValue] = []
    /// Stack heights at each open `MARK`. Opcodes see only the values above the innermost one,
    /// as in CPython's split object/mark stacks.
    private var marks: [Int] = []
    private var memo = PickleMemo<PendingValue>()
    private var arena: NodeArena
    private var pass = 0

    /// - Parameters:
    ///   - input: the record, or its head and tail.
    ///   - largeBytesThreshold: bytes payloads (`BINBYTES`, `SHORT_BINBYTES`, `BINBYTES8`,
    ///     `BYTEARRAY8`, `BINSTRING`, `SHORT_BINSTRING`) of at least this many bytes decode to
    ///     `.byteRange` and are skipped rather than read; nil reads every payload.
    public init(_ input: PickleInput, largeBytesThreshold: Int? = nil) {
        self.input = input
        self.largeBytesThreshold = largeBytesThreshold
        arena = NodeArena(depthLimit: Self.maximumNestingDepth, countLimit: Self.valueLimit(inputLength: input.count))
    }

    /// The most values one decoded tree of an input of this length may hold.
    public static func valueLimit(inputLength: Int) -> Int { inputLength + sharedValueAllowance }

    public init(bytes: [UInt8]) {
        self.init(PickleInput(bytes))
    }

    /// True once every byte of the input has been consumed.
    public var isAtEnd: Bool { position >= input.count }

    /// Decodes one pickle starting at `position` (`PROTO` optional; ends at `STOP`) and advances
    /// past `STOP`. The memo is shared across successive calls.
    ///
    /// - Throws: `PickleError` for truncated or malformed input, including values left in the gap of
    ///   a head-and-tail input.
    public mutating func decodeNext() throws(PickleError) -> PickleValue {
        stack.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        pass += 1
        while true {
            let start = position
            let code = try input.byte(at: start)
            guard let opcode = Opcode(rawValue: code) else { throw PickleError(.unknownOpcode(code), at: start) }
            position = start + 1
            if opcode == .stop {
                // Like CPython, values left below the result (or open marks) are ignored.
                let result = try pop(start)
                return try arena.freeze(result, pass: pass, at: start)
            }
            try execute(opcode, at: start)
        }
    }

    // MARK: - Opcodes

    private mutating func execute(_ opcode: Opcode, at start: Int) throws(PickleError) {
        switch opcode {
        case .stop:
            preconditionFailure("STOP is handled by decodeNext")

        // Stack and mark manipulation.
        case .mark:
            marks.append(stack.count)
        case .pop:
            // With nothing above the innermost mark, POP discards the mark itself (pickle.py).
            if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop(start) }
        case .popMark:
            _ = try popToMark(start)
        case .dup:
            stack.append(try top(start))

        // Scalars.
        case .none:
            push(.none)
        case .newTrue:
            push(.bool(true))
        case .newFalse:
            push(.bool(false))
        case .binInt:
            push(.int(Int64(Int32(truncatingIfNeeded: try readLittleEndian(width: 4)))))
        case .binInt1:
            push(.int(Int64(try readLittleEndian(width: 1))))
        case .binInt2:
            push(.int(Int64(try readLittleEndian(width: 2))))
        case .int:
            // Protocol 0 spells booleans as INT 00 / INT 01.
            let text = try readLine()
            if text.elementsEqual("00".utf8) {
                push(.bool(false))
            } else if text.elementsEqual("01".utf8) {
                push(.bool(true))
            } else {
                push(try decimal(text, at: start))
            }
        case .long:
            var text = try readLine()
            if text.last == UInt8(ascii: "L") { text = text.dropLast() }
            push(try decimal(text, at: start))
        case .long1:
            let length = Int(try readLittleEndian(width: 1))
            push(LongInteger.value(twosComplement: try readBytes(length)))
        case .long4:
            let length = Int32(truncatingIfNeeded: try readLittleEndian(width: 4))
            guard length >= 0 else { throw PickleError(.invalidOperand("LONG4 has a negative byte count"), at: start) }
            try requireAvailable(UInt64(length), at: start)
            push(LongInteger.value(twosComplement: try readBytes(Int(length))))
        case .float:
            let text = try readLine()
            guard let value = Double(String(decoding: text, as: UTF8.self)) else {
                throw PickleError(.invalidOperand("FLOAT operand is not a number"), at: start)
            }
            push(.float(value))
        case .binFloat:
            // The one big-endian operand in the format.
            let bytes = try readBytes(8)
            push(.float(Double(bitPattern: bytes.reduce(0) { $0 << 8 | UInt64($1) })))

        // Text and bytes.
        case .binUnicode:
            push(try readText(length: try readLittleEndian(width: 4), at: start))
        case .shortBinUnicode:
            push(try readText(length: try readLittleEndian(width: 1), at: start))
        case .binUnicode8:
            push(try readText(length: try readLittleEndian(width: 8), at: start))
        case .unicode:
            let text = try readLine()
            do throws(TextEscapes.Failure) {
                push(.string(try TextEscapes.rawUnicodeEscapeDecoded(text)))
            } catch {
                throw PickleError(.invalidOperand("UNICODE: \(error.message)"), at: start)
            }
        case .binBytes:
            push(try readPayload(length: try readLittleEndian(width: 4), python2String: false, at: start))
        case .shortBinBytes:
            push(try readPayload(length: try readLittleEndian(width: 1), python2String: false, at: start))
        case .binBytes8, .byteArray8:
            push(try readPayload(length: try readLittleEndian(width: 8), python2String: false, at: start))
        case .binString:
            let length = Int32(truncatingIfNeeded: try readLittleEndian(width: 4))
            guard length >= 0 else {
                throw PickleError(.invalidOperand("BINSTRING has a negative byte count"), at: start)
            }
            push(try readPayload(length: UInt64(length), python2String: true, at: start))
        case .shortBinString:
            push(try readPayload(length: try readLittleEndian(width: 1), python2String: true, at: start))
        case .string:
            let text = try readLine()
            guard text.count >= 2, let quote = text.first, quote == text.last,
                  quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")
            else { throw PickleError(.invalidOperand("the STRING opcode argument must be quoted"), at: start) }
            do throws(TextEscapes.Failure) {
                push(Self.python2String(try TextEscapes.escapeDecoded(text.dropFirst().dropLast())[...]))
            } catch {
                throw PickleError(.invalidOperand("STRING: \(error.message)"), at: start)
            }

        // Containers.
        case .emptyTuple:
            stack.append(.value(.tuple([]), depth: 1, count: 1))
        case .tuple:
            stack.append(try immutable(.tuple, try popToMark(start), at: start))
        case .tuple1, .tuple2, .tuple3:
            let count = Int(opcode.rawValue - Opcode.tuple1.rawValue) + 1
            stack.append(try immutable(.tuple, try popValues(count, at: start), at: start))
        case .emptyList:
            stack.append(arena.add(PendingNode(.list)))
        case .list:
            stack.append(arena.add(PendingNode(.list, elements: try popToMark(start))))
        case .emptyDict:
            stack.append(arena.add(PendingNode(.dict)))
        case .dict:
            let pairs = try popToMark(start)
            guard pairs.count % 2 == 0 else { throw PickleError(.oddItemCount, at: start) }
            stack.append(arena.add(PendingNode(.dict, pairs: pairs)))
        case .emptySet:
            stack.append(arena.add(PendingNode(.set)))
        case .frozenSet:
            stack.append(try immutable(.frozenSet, try popToMark(start), at: start))
        case .append:
            let value = try pop(start)
            try addElements([value], to: try top(start), allowing: .list, opcode: opcode, at: start)
        case .appends:
            let values = try popToMark(start)
            try addElements(values, to: try top(start), allowing: .list, opcode: opcode, at: start)
        case .addItems:
            let values = try popToMark(start)
            try addElements(values, to: try top(start), allowing: .set, opcode: opcode, at: start)
        case .setItem:
            let pair = try popValues(2, at: start)
            try addPairs(pair, to: try top(start), at: start)
        case .setItems:
            let pairs = try popToMark(start)
            guard pairs.count % 2 == 0 else { throw PickleError(.oddItemCount, at: start) }
            try addPairs(pairs, to: try top(start), at: start)

        // Classes, instances and references.
        case .global:
            let module = String(decoding: try readName(at: start), as: UTF8.self)
            let name = String(decoding: try readName(at: start), as: UTF8.self)
            push(.global(module: module, name: name))
        case .stackGlobal:
            let operands = try popValues(2, at: start)
            guard case .value(.string(let module), _, _) = operands[0], case .value(.string(let name), _, _) = operands[1] else {
                throw PickleError(.unexpectedValue("STACK_GLOBAL needs two strings"), at: start)
            }
            push(.global(module: module, name: name))
        case .reduce:
            let operands = try popValues(2, at: start)
            try requireTuple(operands[1], for: opcode, at: start)
            stack.append(object(callable: operands[0], arguments: operands[1], isNewObj: false))
        case .newObj:
            let operands = try popValues(2, at: start)
            try requireTuple(operands[1], for: opcode, at: start)
            stack.append(object(callable: operands[0], arguments: operands[1], isNewObj: true))
        case .newObjEx:
            let operands = try popValues(3, at: start)
            try requireTuple(operands[1], for: opcode, at: start)
            stack.append(object(callable: operands[0], arguments: operands[1], keywordArguments: operands[2], isNewObj: true))
        case .inst:
            let module = String(decoding: try readName(at: start), as: UTF8.self)
            let name = String(decoding: try readName(at: start), as: UTF8.self)
            let arguments = try immutable(.tuple, try popToMark(start), at: start)
            stack.append(object(callable: .scalar(.global(module: module, name: name)), arguments: arguments, isNewObj: false))
        case .obj:
            let operands = try popToMark(start)
            guard let callable = operands.first else { throw PickleError(.stackUnderflow, at: start) }
            let arguments = try immutable(.tuple, Array(operands.dropFirst()), at: start)
            stack.append(object(callable: callable, arguments: arguments, isNewObj: false))
        case .build:
            let state = try pop(start)
            guard case .node(let index) = try top(start), let head = arena.nodes[index].objectHead else {
                throw PickleError(.unexpectedValue("BUILD needs an instance below its state"), at: start)
            }
            arena.objectHeads[head].state = state
        case .persID:
            // Protocol 0 persistent ids are ASCII text lines.
            let text = try readLine()
            push(.persistentID(.string(String(decoding: text, as: UTF8.self))), depth: 1, count: 2)
        case .binPersID:
            stack.append(try immutable(.persistentID, [try pop(start)], at: start))

        // Memo.
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

        // Framing.
        case .proto:
            let version = UInt8(try readLittleEndian(width: 1))
            guard version <= Opcode.highestProtocol else { throw PickleError(.unsupportedProtocol(version), at: start) }
        case .frame:
            // Frames only group opcodes for buffered reading; the whole input is already at hand.
            _ = try readLittleEndian(width: 8)

        case .ext1, .ext2, .ext4, .nextBuffer, .readonlyBuffer:
            throw PickleError(.unsupportedOpcode(opcode), at: start)
        }
    }

    // MARK: - Stack

    private mutating func push(_ value: PickleValue, depth: Int = 0, count: Int = 1) {
        stack.append(.value(value, depth: depth, count: count))
    }

    private var floor: Int { marks.last ?? 0 }

    private mutating func pop(_ start: Int) throws(PickleError) -> PendingValue {
        guard stack.count > floor else { throw PickleError(.stackUnderflow, at: start) }
        return stack.removeLast()
    }

    private func top(_ start: Int) throws(PickleError) -> PendingValue {
        guard stack.count > floor else { throw PickleError(.stackUnderflow, at: start) }
        return stack[stack.count - 1]
    }

    /// The top `count` values, bottom first.
    private mutating func popValues(_ count: Int, at start: Int) throws(PickleError) -> [PendingValue] {
        guard stack.count - floor >= count else { throw PickleError(.stackUnderflow, at: start) }
        let values = Array(stack[(stack.count - count)...])
        stack.removeLast(count)
        return values
    }

    /// Everything above the innermost mark, bottom first; the mark is closed.
    private mutating func popToMark(_ start: Int) throws(PickleError) -> [PendingValue] {
        guard let mark = marks.popLast() else { throw PickleError(.missingMark, at: start) }
        let values = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return values
    }

    private mutating func fetch(_ key: Int, at start: Int) throws(PickleError) {
        guard let value = memo[key] else { throw PickleError(.memoKeyMissing(key), at: start) }
        stack.append(value)
    }

    // MARK: - Building values

    /// A tuple, frozenset or persistent id: a finished value when its parts are finished, otherwise
    /// a node, since a memo'd list inside it may still grow.
    private mutating func immutable(
        _ kind: PendingNode.Kind, _ items: [PendingValue], at start: Int
    ) throws(PickleError) -> PendingValue {
        var values: [PickleValue] = []
        values.reserveCapacity(items.count)
        var depth = 0
        var count = 1
        for item in items {
            guard case .value(let value, let itemDepth, let itemCount) = item else {
                return arena.add(PendingNode(kind, elements: items))
            }
            values.append(value)
            depth = max(depth, itemDepth)
            count += itemCount
            guard count <= arena.countLimit else {
                throw PickleError(.tooManyValues(limit: arena.countLimit), at: start)
            }
        }
        depth += 1
        guard depth <= arena.depthLimit else {
            throw PickleError(.nestingTooDeep(limit: arena.depthLimit), at: start)
        }
        switch kind {
        case .tuple: return .value(.tuple(values), depth: depth, count: count)
        case .frozenSet: return .value(.frozenSet(values), depth: depth, count: count)
        case .persistentID: return .value(.persistentID(values[0]), depth: depth, count: count)
        case .list, .dict, .set, .object: preconditionFailure("\(kind) is mutable")
        }
    }

    private mutating func object(
        callable: PendingValue, arguments: PendingValue, keywordArguments: PendingValue? = nil, isNewObj: Bool
    ) -> PendingValue {
        let head = PendingNode.ObjectHead(
            callable: callable, arguments: arguments, keywordArguments: keywordArguments, state: nil, isNewObj: isNewObj
        )
        return arena.addObject(head)
    }

    /// `APPEND`/`APPENDS` go to a list, `ADDITEMS` to a set; either may also target an instance
    /// (a pickled list or set subclass), which keeps them as `listItems`.
    private mutating func addElements(
        _ items: [PendingValue], to target: PendingValue, allowing kind: PendingNode.Kind, opcode: Opcode, at start: Int
    ) throws(PickleError) {
        guard case .node(let index) = target, arena.nodes[index].kind == kind || arena.nodes[index].kind == .object else {
            throw PickleError(.unexpectedValue("\(opcode.name) needs a \(kind) below its operands"), at: start)
        }
        arena.nodes[index].elements.append(contentsOf: items)
    }

    private mutating func addPairs(_ pairs: [PendingValue], to target: PendingValue, at start: Int) throws(PickleError) {
        guard case .node(let index) = target, arena.nodes[index].kind == .dict || arena.nodes[index].kind == .object else {
            throw PickleError(.unexpectedValue("SETITEM(S) needs a dict below its operands"), at: start)
        }
        arena.nodes[index].pairs.append(contentsOf: pairs)
    }

    private func requireTuple(_ value: PendingValue, for opcode: Opcode, at start: Int) throws(PickleError) {
        switch value {
        case .value(.tuple, _, _): return
        case .node(let index) where arena.nodes[index].kind == .tuple: return
        default: throw PickleError(.unexpectedValue("\(opcode.name) needs an argument tuple"), at: start)
        }
    }

    /// Python 2 `str` under ZODB's `encoding='ASCII', errors='bytes'`: text if it is ASCII, else bytes.
    private static func python2String(_ bytes: ArraySlice<UInt8>) -> PickleValue {
        if bytes.allSatisfy({ $0 < 0x80 }) { return .string(String(decoding: bytes, as: UTF8.self)) }
        return .bytes(Array(bytes))
    }

    // MARK: - Operands

    private mutating func readLittleEndian(width: Int) throws(PickleError) -> UInt64 {
        let value = try input.littleEndian(at: position, width: width)
        position += width
        return value
    }

    private mutating func readBytes(_ count: Int) throws(PickleError) -> ArraySlice<UInt8> {
        let bytes = try input.bytes(at: position, count: count)
        position += count
        return bytes
    }

    private mutating func readLine() throws(PickleError) -> ArraySlice<UInt8> {
        let (text, next) = try input.line(at: position)
        position = next
        return text
    }

    /// A `GLOBAL`/`INST` module or class name; CPython rejects empty ones.
    private mutating func readName(at start: Int) throws(PickleError) -> ArraySlice<UInt8> {
        let text = try readLine()
        guard !text.isEmpty else { throw PickleError(.invalidOperand("empty module or class name"), at: start) }
        return text
    }

    /// Rejects a length operand that runs past the end of the input, before anything is allocated.
    private func requireAvailable(_ length: UInt64, at start: Int) throws(PickleError) {
        guard length <= UInt64(input.remaining(from: position)) else {
            throw PickleError(.lengthBeyondInput(length), at: start)
        }
    }

    private mutating func readText(length: UInt64, at start: Int) throws(PickleError) -> PickleValue {
        try requireAvailable(length, at: start)
        // Invalid UTF-8 (Python writes lone surrogates with 'surrogatepass') becomes U+FFFD.
        return .string(String(decoding: try readBytes(Int(length)), as: UTF8.self))
    }

    private mutating func readPayload(length: UInt64, python2String: Bool, at start: Int) throws(PickleError) -> PickleValue {
        try requireAvailable(length, at: start)
        let count = Int(length)
        if let threshold = largeBytesThreshold, count >= threshold {
            let offset = position
            position += count
            return .byteRange(offset: offset, length: count)
        }
        let bytes = try readBytes(count)
        return python2String ? Self.python2String(bytes) : .bytes(Array(bytes))
    }

    private func decimal(_ text: ArraySlice<UInt8>, at start: Int) throws(PickleError) -> PickleValue {
        guard let value = LongInteger.value(decimal: text) else {
            throw PickleError(.invalidOperand("not a decimal integer"), at: start)
        }
        return value
    }

    private func memoKey(_ text: ArraySlice<UInt8>, at start: Int) throws(PickleError) -> Int {
        guard case .int(let key) = LongInteger.value(decimal: text), key >= 0, key <= Int64(UInt32.max) else {
            throw PickleError(.invalidOperand("memo key is not a small non-negative integer"), at: start)
        }
        return Int(key)
    }
}

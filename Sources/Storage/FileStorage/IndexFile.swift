import SystemPackage

/// The `Data.fs.index` file: a snapshot of the oid → position index, so that
/// an open does not have to scan the whole storage (ZODB `fsIndex.save`/`load`).
///
/// The file is a concatenation of independent pickles, written by a protocol-3
/// pickler in fast mode (no memo):
/// ```
/// 80 03 <int pos> 2e                                  the storage size when saved
/// 80 03 43 06 <prefix:6> (43 n | 42 n:4) <bucket> 86 2e   one per 6-byte oid prefix, ascending
/// 80 03 4e 2e                                         None: the end
/// ```
/// `pos` is `K`/`M`/`J`/`LONG1` depending on its size. A bucket holds the
/// 2-byte oid suffixes of its prefix in ascending order, then the 6-byte
/// big-endian positions in the same order (`fsBucket.toString()`).
///
/// Reading accepts that format and the same structure as ZODB on Python 2
/// wrote it (protocol 1: `U`/`T` strings, `(`…`t` tuples, text `I`/`L`
/// integers, memo puts); anything else, including the older single-pickle
/// dict formats, is rejected with ``StorageError/invalidIndexFile(path:offset:reason:)``
/// and the storage scans instead. Nothing here decodes general pickles.
public enum IndexFile {
    /// Reads an index file.
    ///
    /// - Parameter path: the index file itself (`Data.fs.index`).
    /// - Returns: the storage position the index was saved at, and the index.
    /// - Throws: ``StorageError/fileNotFound(path:)``, ``StorageError/io(path:operation:errno:)``,
    ///   or ``StorageError/invalidIndexFile(path:offset:reason:)`` for anything
    ///   but the format above.
    public static func load(path: String) throws(StorageError) -> (position: UInt64, index: ObjectIndex) {
        let descriptor = try openForReading(path)
        defer { try? descriptor.close() }
        let size: UInt64
        do {
            size = UInt64(try descriptor.stat().size)
        } catch {
            throw error.storageError(path: path, operation: "fstat")
        }
        var parser = IndexPickleParser(reader: SequentialReader(descriptor: descriptor, path: path, limit: size), path: path)
        return try parser.parse()
    }

    /// Writes an index file that `fsIndex.load` reads, byte for byte what
    /// `fsIndex.save(position, path)` writes for the same content.
    ///
    /// The bytes go to `<path>.index_tmp` (ZODB's name: `Data.fs.index.index_tmp`),
    /// which is fsynced and then renamed over `path`, so a reader never sees a
    /// half-written index.
    ///
    /// - Throws: ``StorageError/io(path:operation:errno:)``, or
    ///   ``StorageError/invalidIndexFile(path:offset:reason:)`` when a position
    ///   does not fit the format's 48 bits.
    public static func save(position: UInt64, index: ObjectIndex, path: String) throws(StorageError) {
        let temporary = path + ".index_tmp"
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(temporary), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: temporary, operation: "open")
        }
        var closed = false
        do throws(StorageError) {
            try encode(position: position, index: index, path: path) { (chunk: [UInt8]) throws(StorageError) in
                do {
                    _ = try descriptor.writeAll(chunk)
                } catch {
                    throw (error as? Errno ?? .ioError).storageError(path: temporary, operation: "write")
                }
            }
            do {
                try descriptor.synchronize()
            } catch {
                throw error.storageError(path: temporary, operation: "fsync")
            }
            closed = true
            try? descriptor.close()
            do {
                try systemRename(temporary, path)
            } catch {
                throw error.storageError(path: path, operation: "rename")
            }
        } catch {
            if !closed { try? descriptor.close() }
            try? systemUnlink(temporary)
            throw error
        }
    }

    /// ``save(position:index:path:)`` for an index held in a dictionary.
    public static func save(position: UInt64, index: [OID: UInt64], path: String) throws(StorageError) {
        try save(position: position, index: ObjectIndex(index), path: path)
    }

    /// The bytes of an index file, in memory (see ``save(position:index:path:)``).
    public static func encoded(position: UInt64, index: ObjectIndex) throws(StorageError) -> [UInt8] {
        var result: [UInt8] = []
        try encode(position: position, index: index, path: "<memory>", chunkSize: Int.max) { (chunk: [UInt8]) throws(StorageError) in
            result += chunk
        }
        return result
    }

    /// Produces the file in chunks of about `chunkSize` bytes.
    static func encode(
        position: UInt64, index: ObjectIndex, path: String, chunkSize: Int = 1 << 20,
        _ sink: ([UInt8]) throws(StorageError) -> Void
    ) throws(StorageError) {
        var out: [UInt8] = []
        out.reserveCapacity(min(chunkSize, 16 + index.count * 8 + 1024) + 1024)
        out += [Opcode.proto, 3]
        appendInteger(position, to: &out)
        out.append(Opcode.stop)

        try index.forEachBucket { (prefix, suffixes, positions) throws(StorageError) in
            out += [Opcode.proto, 3, Opcode.shortBinBytes, 6]
            for shift in stride(from: 40, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: prefix >> UInt64(shift))) }
            appendBytesHeader(count: suffixes.count * 8, to: &out)
            for suffix in suffixes { out.appendBE(suffix) }
            for value in positions {
                guard value >> 48 == 0 else {
                    throw .invalidIndexFile(path: path, offset: 0, reason: "position \(value) does not fit in 48 bits")
                }
                for shift in stride(from: 40, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
            }
            out += [Opcode.tuple2, Opcode.stop]
            if out.count >= chunkSize {
                try sink(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out += [Opcode.proto, 3, Opcode.none, Opcode.stop]
        try sink(out)
    }

    /// An int as `save_long` writes it at protocol ≥ 2.
    private static func appendInteger(_ value: UInt64, to out: inout [UInt8]) {
        if value <= 0xff {
            out += [Opcode.binInt1, UInt8(value)]
        } else if value <= 0xffff {
            out.append(Opcode.binInt2)
            out.appendLE(value, count: 2)
        } else if value <= 0x7fff_ffff {
            out.append(Opcode.binInt)
            out.appendLE(value, count: 4)
        } else {
            // LONG1: (bit_length >> 3) + 1 little-endian two's-complement bytes.
            let count = (64 - value.leadingZeroBitCount) >> 3 + 1
            out += [Opcode.long1, UInt8(count)]
            out.appendLE(value, count: min(count, 8))
            if count == 9 { out.append(0) }
        }
    }

    /// `SHORT_BINBYTES` below 256 bytes, `BINBYTES` from there.
    private static func appendBytesHeader(count: Int, to out: inout [UInt8]) {
        if count <= 0xff {
            out += [Opcode.shortBinBytes, UInt8(count)]
        } else {
            out.append(Opcode.binBytes)
            out.appendLE(UInt64(count), count: 4)
        }
    }

    private static func openForReading(_ path: String) throws(StorageError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch Errno.noSuchFileOrDirectory {
            throw .fileNotFound(path: path)
        } catch {
            throw (error as? Errno ?? .ioError).storageError(path: path, operation: "open")
        }
    }
}

/// The pickle opcodes an index file uses.
enum Opcode {
    static let proto: UInt8 = 0x80
    static let stop = UInt8(ascii: ".")
    static let none = UInt8(ascii: "N")
    static let binInt = UInt8(ascii: "J")
    static let binInt1 = UInt8(ascii: "K")
    static let binInt2 = UInt8(ascii: "M")
    static let long1: UInt8 = 0x8a
    static let int = UInt8(ascii: "I")
    static let long = UInt8(ascii: "L")
    static let shortBinBytes = UInt8(ascii: "C")
    static let binBytes = UInt8(ascii: "B")
    static let shortBinString = UInt8(ascii: "U")
    static let binString = UInt8(ascii: "T")
    static let tuple2: UInt8 = 0x86
    static let mark = UInt8(ascii: "(")
    static let tuple = UInt8(ascii: "t")
    static let binPut = UInt8(ascii: "q")
    static let longBinPut = UInt8(ascii: "r")
}

/// Reads exactly the pickles ``IndexFile`` describes, streaming, with every
/// length checked before anything is allocated.
struct IndexPickleParser {
    var reader: SequentialReader
    let path: String
    private var offset: UInt64 = 0
    /// The largest bucket `fsBucket` holds: 65536 suffixes of 8 bytes.
    private static let maximumBucket = 65536 * 8

    init(reader: SequentialReader, path: String) {
        self.reader = reader
        self.path = path
    }

    mutating func parse() throws(StorageError) -> (position: UInt64, index: ObjectIndex) {
        try beginPickle()
        let opcodeOffset = offset
        guard let position = try integer(try byte()) else {
            throw invalid(opcodeOffset, "the first pickle is not an integer (an older index format)")
        }
        try endPickle()

        var index = ObjectIndex()
        while true {
            try beginPickle()
            var opcode = try byte()
            if opcode == Opcode.none {
                try endPickle()
                break  // fsIndex.load stops at the first false value; what follows is ignored
            }
            let marked = opcode == Opcode.mark
            if marked { opcode = try byte() }
            let prefix = try bytesValue(opcode, maximum: 6)
            guard prefix.count == 6 else { throw invalid(prefix.opcode, "an oid prefix of \(prefix.count) bytes, not 6") }
            guard let at = try reader.window(at: prefix.offset, count: 6) else { throw invalid(prefix.offset, "truncated") }
            var high: UInt64 = 0
            for i in 0..<6 { high = high << 8 | UInt64(reader.buffer[at + i]) }
            try skipMemoPut()

            let bucket = try bytesValue(try byte(), maximum: Self.maximumBucket)
            guard bucket.count % 8 == 0 else {
                throw invalid(bucket.opcode, "a bucket of \(bucket.count) bytes, not a multiple of 8")
            }
            if bucket.count > 0 {
                guard let base = try reader.window(at: bucket.offset, count: bucket.count) else {
                    throw invalid(bucket.offset, "truncated")
                }
                let n = bucket.count / 8
                let buffer = reader.buffer
                var suffixes = [UInt16](repeating: 0, count: n)
                var positions = [UInt64](repeating: 0, count: n)
                for i in 0..<n {
                    suffixes[i] = buffer.uint16BE(at: base + 2 * i)
                    var value: UInt64 = 0
                    let v = base + 2 * n + 6 * i
                    for j in 0..<6 { value = value << 8 | UInt64(buffer[v + j]) }
                    positions[i] = value
                }
                index.appendBucket(prefix: high, suffixes: suffixes, positions: positions)
            }
            try skipMemoPut()
            let close = offset
            let end = try byte()
            guard end == (marked ? Opcode.tuple : Opcode.tuple2) else {
                throw invalid(close, "expected the end of a (prefix, bucket) tuple, found opcode 0x\(String(end, radix: 16))")
            }
            try skipMemoPut()
            try endPickle()
        }
        return (position, index)
    }

    // MARK: Pieces

    private func invalid(_ at: UInt64, _ reason: String) -> StorageError {
        .invalidIndexFile(path: path, offset: at, reason: reason)
    }

    private mutating func byte() throws(StorageError) -> UInt8 {
        guard let at = try reader.window(at: offset, count: 1) else { throw invalid(offset, "unexpected end of file") }
        offset += 1
        return reader.buffer[at]
    }

    private mutating func littleEndian(_ count: Int) throws(StorageError) -> UInt64 {
        guard let at = try reader.window(at: offset, count: count) else { throw invalid(offset, "unexpected end of file") }
        offset += UInt64(count)
        return reader.buffer.uintLE(at: at, count: count)
    }

    /// An optional `PROTO 2`/`PROTO 3` (protocol 0/1 pickles have none).
    private mutating func beginPickle() throws(StorageError) {
        guard let at = try reader.window(at: offset, count: 1) else { throw invalid(offset, "unexpected end of file (no terminating None)") }
        guard reader.buffer[at] == Opcode.proto else { return }
        offset += 1
        let version = try byte()
        guard version == 2 || version == 3 else { throw invalid(offset - 1, "pickle protocol \(version), expected 3") }
    }

    private mutating func endPickle() throws(StorageError) {
        try skipMemoPut()
        let at = offset
        guard try byte() == Opcode.stop else { throw invalid(at, "expected STOP") }
    }

    /// Skips `BINPUT`/`LONG_BINPUT` (Python 2 picklers wrote them even in fast mode).
    private mutating func skipMemoPut() throws(StorageError) {
        while let at = try reader.window(at: offset, count: 1) {
            switch reader.buffer[at] {
            case Opcode.binPut: offset += 2
            case Opcode.longBinPut: offset += 5
            default: return
            }
        }
    }

    /// A non-negative integer opcode's value, or nil for another opcode.
    private mutating func integer(_ opcode: UInt8) throws(StorageError) -> UInt64? {
        let at = offset - 1
        switch opcode {
        case Opcode.binInt1: return try littleEndian(1)
        case Opcode.binInt2: return try littleEndian(2)
        case Opcode.binInt:
            let value = try littleEndian(4)
            guard value < 0x8000_0000 else { throw invalid(at, "negative position") }
            return value
        case Opcode.long1:
            let count = Int(try byte())
            guard count <= 9 else { throw invalid(at, "an integer of \(count) bytes") }
            guard let start = try reader.window(at: offset, count: count) else { throw invalid(offset, "unexpected end of file") }
            let bytes = Array(reader.buffer[start..<(start + count)])
            offset += UInt64(count)
            guard count > 0, bytes[count - 1] & 0x80 == 0, count < 9 || bytes[8] == 0 else {
                throw invalid(at, "a position that is negative or does not fit in 64 bits")
            }
            return bytes.uintLE(at: 0, count: min(count, 8))
        case Opcode.int, Opcode.long:
            // Text forms: "I123\n", "L123L\n".
            var digits: [UInt8] = []
            while true {
                let c = try byte()
                if c == UInt8(ascii: "\n") { break }
                guard digits.count < 24 else { throw invalid(at, "an over-long text integer") }
                digits.append(c)
            }
            if opcode == Opcode.long, digits.last == UInt8(ascii: "L") { digits.removeLast() }
            guard let text = String(validating: digits, as: UTF8.self), let value = UInt64(text) else {
                throw invalid(at, "a text integer that is not a non-negative number")
            }
            return value
        default:
            return nil
        }
    }

    /// A bytes (or Python 2 str) value, consumed: where its opcode was, where
    /// its bytes start, and how many there are.
    private mutating func bytesValue(_ opcode: UInt8, maximum: Int) throws(StorageError) -> (opcode: UInt64, offset: UInt64, count: Int) {
        let at = offset - 1
        let count: UInt64
        switch opcode {
        case Opcode.shortBinBytes, Opcode.shortBinString: count = try littleEndian(1)
        case Opcode.binBytes, Opcode.binString: count = try littleEndian(4)
        default: throw invalid(at, "expected a bytes value, found opcode 0x\(String(opcode, radix: 16))")
        }
        guard count <= UInt64(maximum) else { throw invalid(at, "a bytes value of \(count) bytes (at most \(maximum) expected)") }
        let start = offset
        guard let _ = try reader.window(at: start, count: Int(count)) else { throw invalid(start, "unexpected end of file") }
        offset += count
        return (at, start, Int(count))
    }
}

import OFS
import Storage
import SystemPackage

/// A file open for writing: the stored revision it started from, plus what
/// was written, truncated or set since — everything a commit needs and
/// every read through the mount must see before the commit lands.
///
/// One per inode, shared by all handles on it (POSIX: a write through one
/// descriptor is visible through every other). Created by `create` for a new
/// name — then the store does not know the file until its first commit — or
/// by an `open` for writing of a stored file.
///
/// Concurrency: `state` guards everything and is held for a whole commit, so
/// a commit sees one consistent body while writes and reads on this file wait
/// for it (a flush is a synchronisation point anyway). Commits of different
/// files run in parallel and meet only in the storage's commit lock.
final class OpenFile: Sendable {
    /// What the store holds for this file, if anything.
    enum Origin: Sendable {
        /// Not yet committed: `create` made it in `parent` under `name`.
        case pending(parent: OID, name: String)
        /// Committed: the revision the body below comes from.
        case stored
    }

    /// The committed bytes the file started from.
    enum Base: Sendable {
        case empty
        case inline([UInt8])
        case chain(ChunkTable, links: [ChainLink]?)
    }

    struct State: Sendable {
        var origin: Origin
        var base: Base
        var baseSize: UInt64
        /// Bytes of `base` below this offset are still the file's; a
        /// truncation lowers it, so a later extension reads zeros, not the
        /// old bytes.
        var baseValidEnd: UInt64
        var size: UInt64
        var written = ExtentSet()
        var spool: SpoolFile?
        /// Something changed since the last commit (always true for a pending file).
        var modified: Bool
        var handles = 0
        /// Unlinked while open: reads go on, nothing is committed.
        var unlinked = false
        /// Set by utimens/chmod/setxattr while the file has uncommitted
        /// changes; applied by the content commit.
        var pendingMetadata = MetadataChange()
        /// For `stat` while uncommitted changes exist.
        var changeTime: Double
        /// The serial of the File record the body came from (nil while pending).
        var serial: TID?
        /// Written or truncated since it was opened. Its close then puts
        /// the body back if another client replaced the File after the
        /// last commit: the last close wins, even when an earlier close
        /// (a forked child's inherited descriptor) already committed it.
        var changedSinceOpen = false
    }

    let oid: OID
    let inode: InodeNumber
    let state: Guarded<State>

    init(oid: OID, inode: InodeNumber, state: State) {
        self.oid = oid
        self.inode = inode
        self.state = Guarded(state)
    }

    /// A file `create` just made: empty, known only to the mount.
    static func pending(oid: OID, inode: InodeNumber, parent: OID, name: String, now: Double) -> OpenFile {
        OpenFile(oid: oid, inode: inode, state: State(
            origin: .pending(parent: parent, name: name), base: .empty, baseSize: 0, baseValidEnd: 0,
            size: 0, modified: true, changeTime: now, serial: nil))
    }

    /// A stored File opened for writing.
    static func stored(_ file: ZopeFile, inode: InodeNumber, table: ChunkTable?, now: Double) -> OpenFile {
        let base: Base
        switch file.body {
        case .inline(let bytes): base = .inline(Array(bytes.prefix(Int(clamping: file.size))))
        case .chain: base = table.map { .chain($0, links: nil) } ?? .empty
        }
        return OpenFile(oid: file.record.oid, inode: inode, state: State(
            origin: .stored, base: base, baseSize: file.size, baseValidEnd: file.size, size: file.size,
            modified: false, changeTime: now, serial: file.record.tid))
    }
}

extension OpenFile.State {
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, spoolDirectory: SpoolDirectory,
                        now: Double) throws(FSError) {
        guard bytes.count > 0 else { return }
        if spool == nil { spool = try spoolDirectory.makeFile() }
        try spool!.write(bytes, at: offset)
        let end = offset + UInt64(bytes.count)
        written.insert(offset..<end)
        size = max(size, end)
        modified = true
        changedSinceOpen = true
        changeTime = now
    }

    mutating func truncate(to newSize: UInt64, now: Double) throws(FSError) {
        if newSize < size {
            written.removeAll(from: newSize)
            baseValidEnd = min(baseValidEnd, newSize)
            try spool?.truncate(to: newSize)
        }
        if newSize != size {
            size = newSize
            modified = true
            changedSinceOpen = true
        }
        changeTime = now
    }

    /// The file's current bytes in `range` (clipped to its size), for a read
    /// through the mount: at most one request long, so assembled in memory.
    func read(_ range: Range<UInt64>, storage: any ObjectStorage) throws(FSError) -> [UInt8] {
        let clipped = range.clamped(to: 0..<size)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clipped.count))
        for segment in try segments(clipped, storage: storage) {
            switch segment {
            case .bytes(let b): bytes += b
            case .file(let fd, let offset, let length):
                if fd == spool?.descriptor {
                    bytes += try spool!.read(at: UInt64(offset), count: length)
                } else {
                    bytes += try FileRange(offset: UInt64(offset), length: length).read(from: fd.rawValue, path: storage.name)
                }
            }
        }
        return bytes
    }

    /// The file's bytes in `range` as pieces a commit can copy without
    /// holding them: spool ranges for what was written, Data.fs ranges of the
    /// stored revision for the rest, zeros for holes.
    func segments(_ range: Range<UInt64>, storage: any ObjectStorage) throws(FSError) -> [PayloadSegment] {
        var result: [PayloadSegment] = []
        for piece in written.pieces(of: range) {
            if piece.written, let spool {
                result.append(.file(spool.descriptor, offset: Int64(piece.range.lowerBound), length: Int(piece.range.count)))
                continue
            }
            let stored = piece.range.clamped(to: 0..<min(baseValidEnd, baseSize))
            if !stored.isEmpty {
                try appendBase(stored, to: &result, storage: storage)
            }
            if piece.range.upperBound > stored.upperBound {
                let zeroStart = max(piece.range.lowerBound, stored.upperBound)
                Self.appendZeros(Int(piece.range.upperBound - zeroStart), to: &result)
            }
        }
        return result
    }

    private func appendBase(_ range: Range<UInt64>, to result: inout [PayloadSegment],
                            storage: any ObjectStorage) throws(FSError) {
        switch base {
        case .empty:
            Self.appendZeros(Int(range.count), to: &result)
        case .inline(let bytes):
            result.append(.bytes(Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])))
        case .chain(let table, _):
            var cursor = range.lowerBound
            while cursor < range.upperBound {
                let length = Int(min(range.upperBound - cursor, 1 << 24))
                let reply = try table.read(offset: cursor, length: length, storage: storage)
                guard reply.count > 0 else { throw .corruptObject("Pdata chain of \(table.oid) ends before its size") }
                switch reply {
                case .bytes(let b):
                    result.append(.bytes(b))
                case .pieces(let pieces):
                    result += pieces.filter { !$0.isEmpty }.map { .bytes(Array($0)) }
                case .fileRanges(let fd, let ranges):
                    result += ranges.map { .file(FileDescriptor(rawValue: fd), offset: Int64($0.offset), length: $0.length) }
                }
                cursor += UInt64(reply.count)
            }
        }
    }

    private static func appendZeros(_ count: Int, to result: inout [PayloadSegment]) {
        var left = count
        while left > 0 {
            let n = min(left, 1 << 16)
            result.append(.bytes([UInt8](repeating: 0, count: n)))
            left -= n
        }
    }
}

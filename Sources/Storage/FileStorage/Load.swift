import SystemPackage

extension FileStorage {
    /// The current revision of an object: its pickle and its serial (ZODB's `load`).
    ///
    /// - Returns: the record pickle (class pickle + state pickle) and the tid
    ///   of the newest record of the oid — also when that record is a
    ///   backpointer to older data, as ZODB returns it.
    /// - Throws: ``StorageError/objectNotFound(_:)`` for an oid the index does
    ///   not have, ``StorageError/objectDeleted(_:)`` when the current revision
    ///   deletes the object (both ZODB's `POSKeyError`), or
    ///   ``StorageError/corrupted(path:offset:reason:)``.
    public func load(_ oid: OID) throws(StorageError) -> (data: [UInt8], tid: TID) {
        let record = try currentRecord(oid)
        return (try read(at: record.pickleOffset, count: record.pickleLength, generation: record.generation), record.tid)
    }

    /// Where the pickle of an object's current revision lives, following
    /// backpointers, without reading it: for `pread`/`splice` of payloads.
    ///
    /// - Throws: as ``load(_:)``.
    public func currentRecord(_ oid: OID) throws(StorageError) -> DataRecord {
        let (position, end, file) = try lookUp(oid)
        let (header, back) = try readDataHeader(at: position, oid: oid, end: end, in: file.descriptor)
        return try resolve(header, at: position, back: back, tid: header.tid, end: end, in: file)
    }

    /// The revision of an object that was current just before `before`
    /// (ZODB's `loadBefore`): the newest revision whose tid is less than `before`.
    ///
    /// - Returns: the data, the tid of that revision (`start`) and the tid of
    ///   the revision that replaced it (`end`, nil if it is still current); nil
    ///   when the object has no revision before `before`.
    /// - Throws: ``StorageError/objectNotFound(_:)`` for an unknown oid,
    ///   ``StorageError/objectDeleted(_:)`` when the revision found deletes the
    ///   object (ZODB raises `POSKeyError` there too), or
    ///   ``StorageError/corrupted(path:offset:reason:)``.
    public func loadBefore(_ oid: OID, before: TID) throws(StorageError) -> (data: [UInt8], start: TID, end: TID?)? {
        let (start, end, file) = try lookUp(oid)
        var position = start
        var replacedBy: TID?
        while true {
            let (header, back) = try readDataHeader(at: position, oid: oid, end: end, in: file.descriptor)
            if header.tid < before {
                let record = try resolve(header, at: position, back: back, tid: header.tid, end: end, in: file)
                return (try read(at: record.pickleOffset, count: record.pickleLength, in: file), header.tid, replacedBy)
            }
            replacedBy = header.tid
            guard header.previous != 0 else { return nil }
            position = try earlier(header.previous, than: position, what: "previous pointer")
        }
    }

    /// The data of the revision of `oid` written by transaction `serial`
    /// (ZODB's `loadSerial`).
    ///
    /// - Throws: ``StorageError/objectNotFound(_:)`` when the oid is unknown or
    ///   has no revision with that tid, ``StorageError/objectDeleted(_:)`` when
    ///   that revision deletes the object.
    public func loadSerial(_ oid: OID, serial: TID) throws(StorageError) -> [UInt8] {
        let (start, end, file) = try lookUp(oid)
        var position = start
        while true {
            let (header, back) = try readDataHeader(at: position, oid: oid, end: end, in: file.descriptor)
            if header.tid == serial {
                let record = try resolve(header, at: position, back: back, tid: header.tid, end: end, in: file)
                return try read(at: record.pickleOffset, count: record.pickleLength, in: file)
            }
            guard header.tid > serial, header.previous != 0 else { throw .objectNotFound(oid) }
            position = try earlier(header.previous, than: position, what: "previous pointer")
        }
    }

    /// Every revision of an object, newest first: the position of each data
    /// record on its `prev` chain and the tid that wrote it.
    public func revisions(of oid: OID) throws(StorageError) -> [(tid: TID, position: UInt64)] {
        let (start, end, file) = try lookUp(oid)
        var position = start
        var result: [(TID, UInt64)] = []
        while true {
            let (header, _) = try readDataHeader(at: position, oid: oid, end: end, in: file.descriptor)
            result.append((header.tid, position))
            guard header.previous != 0 else { return result }
            position = try earlier(header.previous, than: position, what: "previous pointer")
        }
    }

    /// Reads `count` bytes at `offset` with `pread`.
    ///
    /// - Throws: ``StorageError/corrupted(path:offset:reason:)`` when the range
    ///   runs past ``size`` or the file ends early (a short read is an error,
    ///   never a short result).
    public func read(at offset: UInt64, count: Int) throws(StorageError) -> [UInt8] {
        let file = try state.withLock { s throws(StorageError) -> StorageFile in
            guard !s.isClosed else { throw .closed(path: path) }
            return s.file
        }
        return try read(at: offset, count: count, in: file)
    }

    /// Reads `count` bytes at `offset` of the file of `generation` (a
    /// position from a ``DataRecord``, which says its generation).
    ///
    /// - Throws: as ``read(at:count:)``, and
    ///   ``StorageError/fileReplaced(path:reason:)`` when that file is closed.
    public func read(at offset: UInt64, count: Int, generation: UInt64) throws(StorageError) -> [UInt8] {
        try read(at: offset, count: count, in: try storageFile(ofGeneration: generation))
    }

    private func read(at offset: UInt64, count: Int, in storageFile: StorageFile) throws(StorageError) -> [UInt8] {
        precondition(count >= 0, "negative read count")
        let file = storageFile.descriptor
        // The end of a retired file is its size: it no longer grows.
        let end = try storageFile.generation == generation ? currentEnd() : Self.fileSize(file, path)
        guard let stop = offset.adding(UInt64(count)), stop <= end else {
            throw .corrupted(path: path, offset: offset, reason: "a read of \(count) bytes runs past the end of the storage (\(end))")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let got: Int
        do {
            got = try file.readFully(fromAbsoluteOffset: offset, count: count, into: &bytes, at: 0)
        } catch {
            throw error.storageError(path: path, operation: "pread")
        }
        guard got == count else {
            throw .corrupted(path: path, offset: offset + UInt64(got), reason: "unexpected end of file (\(count - got) of \(count) bytes missing)")
        }
        return bytes
    }

    /// Starts reading `[offset, offset + length)` into the page cache for a
    /// reader that will soon want it (nearest its end first when
    /// `descending`): in 2 MiB folios on background workers where the
    /// kernel allows (``RegionPrefetcher``), else with `posix_fadvise`.
    public func prefetch(offset: UInt64, length: UInt64, descending: Bool = false) {
        guard let prefetcher else {
            adviseWillNeed(offset: offset, length: length, descending: descending)
            return
        }
        let (file, end) = state.withLock { ($0.file, $0.end) }
        prefetcher.request(file, end: end, offset: offset, length: length, descending: descending)
    }

    /// Asks the kernel to start reading a range into the page cache
    /// (`posix_fadvise(POSIX_FADV_WILLNEED)`), in pieces the kernel reads
    /// whole (``ReadaheadLimit``) — nearest the reader first when it reads
    /// the range from its end. Best effort: errors are ignored.
    public func adviseWillNeed(offset: UInt64, length: UInt64, descending: Bool = false) {
        let piece = willNeedPiece
        var starts = Array(stride(from: offset, to: offset + length, by: Int(piece)))
        if descending { starts.reverse() }
        for start in starts {
            try? file.advise(.willNeed, offset: start, length: min(piece, offset + length - start))
        }
    }

    // MARK: - Records

    /// The index position of `oid` and the end of the storage.
    private func lookUp(_ oid: OID) throws(StorageError) -> (position: UInt64, end: UInt64, file: StorageFile) {
        try state.withLock { state throws(StorageError) in
            guard !state.isClosed else { throw .closed(path: path) }
            guard let position = state.index[oid] else { throw .objectNotFound(oid) }
            return (position, state.end, state.file)
        }
    }

    /// `pointer`, checked to lie before the record that holds it: the chains of
    /// `prev` and backpointers only go back in the file, so following them
    /// always ends, whatever a damaged file says.
    private func earlier(_ pointer: UInt64, than position: UInt64, what: String) throws(StorageError) -> UInt64 {
        guard pointer >= 4, pointer < position else {
            throw .corrupted(path: path, offset: position, reason: "\(what) \(pointer) does not point before its record")
        }
        return pointer
    }

    /// Reads the data header at `position` (and its backpointer when it has
    /// no pickle), checking it belongs to `oid` and fits before `end`.
    func readDataHeader(at position: UInt64, oid: OID, end: UInt64, in file: FileDescriptor) throws(StorageError) -> (header: DataHeader, back: UInt64) {
        let headerSize = UInt64(DataHeader.size)
        guard position >= 4, position < end, end - position >= headerSize else {
            throw .corrupted(path: path, offset: position, reason: "data record of \(oid.repr) lies outside the storage (\(end) bytes)")
        }
        let wanted = Int(min(headerSize + 8, end - position))
        var bytes = [UInt8](repeating: 0, count: wanted)
        let got: Int
        do {
            got = try file.readFully(fromAbsoluteOffset: position, count: wanted, into: &bytes, at: 0)
        } catch {
            throw error.storageError(path: path, operation: "pread")
        }
        guard got == wanted else {
            throw .corrupted(path: path, offset: position, reason: "unexpected end of file in a data record header")
        }
        let header = DataHeader(bytes, at: 0)
        try header.validateVersion(at: position, path: path)
        guard header.oid == oid else {
            throw .corrupted(path: path, offset: position, reason: "expected a data record of \(oid.repr), found one of \(header.oid.repr)")
        }
        if header.pickleLength == 0 {
            guard wanted == DataHeader.size + 8 else {
                throw .corrupted(path: path, offset: position, reason: "backpointer of \(oid.repr) runs past the end of the storage")
            }
            return (header, bytes.uint64BE(at: DataHeader.size))
        }
        guard header.pickleLength <= end - position - headerSize else {
            throw .corrupted(
                path: path, offset: position,
                reason: "pickle of \(oid.repr) (\(header.pickleLength) bytes) runs past the end of the storage (\(end))")
        }
        return (header, 0)
    }

    /// The record holding the data of the revision whose header is at
    /// `position`, following backpointers (ZODB's `_loadBack_impl`).
    private func resolve(
        _ header: DataHeader, at position: UInt64, back: UInt64, tid: TID, end: UInt64, in file: StorageFile
    ) throws(StorageError) -> DataRecord {
        var header = header
        var at = position
        var back = back
        while header.pickleLength == 0 {
            if back == 0 { throw .objectDeleted(header.oid) }
            at = try earlier(back, than: at, what: "backpointer")
            (header, back) = try readDataHeader(at: at, oid: header.oid, end: end, in: file.descriptor)
        }
        return DataRecord(
            oid: header.oid, tid: tid, position: position,
            pickleOffset: at + UInt64(DataHeader.size), pickleLength: Int(header.pickleLength),
            generation: file.generation)
    }
}

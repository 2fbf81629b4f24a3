import OFS
import Storage
import ZODB

/// The records that store an open file's current body: the new `Pdata`
/// links (or inline bytes) and what the File record's `data` becomes.
///
/// Two layouts (zodb_formats §6.6):
/// - **Fresh**, exactly as Zope's `File._read_data` lays a body out: used for
///   new files, whole rewrites, bodies that were or become small (≤ 128 KiB),
///   and inline bodies. Every link is new.
/// - **Edited**, for a stored chain changed in place: links keep their
///   oids and boundaries; only the links whose bytes changed, the link whose
///   `next` changes (cut or extended end) and new 64 KiB links past the old
///   end are written. A one-byte change in a 1 GiB file writes one 64 KiB link
///   and the File record, not 16,384 links. Zope reads any chain, whatever
///   its link sizes.
///
/// Payload bytes are never held: every link is `prefix + segments + suffix`,
/// the segments pointing into the spool or into Data.fs (see
/// ``OpenFile/State/segments(_:storage:)``).
struct BodyCommit {
    enum Data {
        case inline([UInt8])
        case chain(first: OID)
    }

    var data: Data
    var records: [PendingRecord]
    /// The chain after the commit, once its serial is known (`serial` is
    /// filled in by ``committed(tid:)``).
    var links: [ChainLink]

    static let chunk = UInt64(PdataChainLayout.chunkSize)

    /// Plans the body of `file`. `newOIDs` hands out oids for new links.
    static func plan(_ file: OpenFile.State, storage: any ObjectStorage,
                     newOIDs: (Int) throws(FSError) -> [OID]) throws(FSError) -> BodyCommit {
        let size = file.size
        if size < chunk {
            return BodyCommit(data: .inline(try file.read(0..<size, storage: storage)), records: [], links: [])
        }
        if case .chain(let table, let known) = file.base, size > 2 * chunk, file.baseValidEnd > 2 * chunk,
           !file.written.covers(0..<size) {
            let links: [ChainLink]
            if let known { links = known } else { links = try ChainLink.walk(from: table.firstLink, storage: storage) }
            return try edited(file, links: links, storage: storage, newOIDs: newOIDs)
        }
        return try fresh(file, storage: storage, newOIDs: newOIDs)
    }

    private static func fresh(_ file: OpenFile.State, storage: any ObjectStorage,
                              newOIDs: (Int) throws(FSError) -> [OID]) throws(FSError) -> BodyCommit {
        let layout = PdataChainLayout(size: file.size)
        let oids = try newOIDs(layout.linkLengths.count)
        let linkOIDs = layout.oidsInFileOrder(allocated: oids)
        var records: [PendingRecord] = []
        var links: [ChainLink] = []
        var start: UInt64 = 0
        for (i, length) in layout.linkLengths.enumerated() {
            let range = start..<start + UInt64(length)
            let next: PdataRecord.Next = layout.linkLengths.count == 1 ? .absent
                : (i + 1 < linkOIDs.count ? .link(linkOIDs[i + 1]) : .none)
            records.append(try record(linkOIDs[i], expected: nil, range: range, next: next, file: file, storage: storage))
            links.append(ChainLink(oid: linkOIDs[i], serial: .zero, start: range.lowerBound, length: UInt64(length)))
            start = range.upperBound
        }
        return BodyCommit(data: .chain(first: linkOIDs[0]), records: records, links: links)
    }

    private static func edited(_ file: OpenFile.State, links old: [ChainLink], storage: any ObjectStorage,
                               newOIDs: (Int) throws(FSError) -> [OID]) throws(FSError) -> BodyCommit {
        let size = file.size
        // Links that still hold bytes of the file; the last may be cut short.
        var kept = old.filter { $0.start < size }
        kept[kept.count - 1].length = min(kept[kept.count - 1].length, size - kept[kept.count - 1].start)
        let keptEnd = kept[kept.count - 1].end
        var appendedRanges: [Range<UInt64>] = []
        var cursor = keptEnd
        while cursor < size {
            let end = min(size, cursor + chunk)
            appendedRanges.append(cursor..<end)
            cursor = end
        }
        let appendedOIDs = try appendedRanges.isEmpty ? [] : newOIDs(appendedRanges.count)
        let lastKept = kept.count - 1
        let endMoved = kept.count != old.count || !appendedOIDs.isEmpty
        var records: [PendingRecord] = []
        var links: [ChainLink] = []
        for (i, link) in kept.enumerated() {
            let range = link.start..<link.end
            let changed = file.written.intersects(range) || link.end > file.baseValidEnd
                || link.length != old[i].length || (i == lastKept && endMoved)
            links.append(link)
            guard changed else { continue }
            let next: PdataRecord.Next = i < lastKept ? .link(kept[i + 1].oid)
                : (appendedOIDs.first.map { .link($0) } ?? .none)
            records.append(try record(link.oid, expected: link.serial, range: range, next: next, file: file, storage: storage))
            links[i].serial = .zero
        }
        for (i, range) in appendedRanges.enumerated() {
            let next: PdataRecord.Next = i + 1 < appendedOIDs.count ? .link(appendedOIDs[i + 1]) : .none
            records.append(try record(appendedOIDs[i], expected: nil, range: range, next: next, file: file, storage: storage))
            links.append(ChainLink(oid: appendedOIDs[i], serial: .zero, start: range.lowerBound, length: UInt64(range.count)))
        }
        return BodyCommit(data: .chain(first: kept[0].oid), records: records, links: links)
    }

    private static func record(_ oid: OID, expected: TID?, range: Range<UInt64>, next: PdataRecord.Next,
                               file: OpenFile.State, storage: any ObjectStorage) throws(FSError) -> PendingRecord {
        let framing = PdataRecord(payloadLength: Int(range.count), next: next)
        var segments: [PayloadSegment] = [.bytes(framing.prefix)]
        segments += try file.segments(range, storage: storage)
        segments.append(.bytes(framing.suffix))
        return PendingRecord(oid: oid, expectedSerial: expected, segments: segments)
    }

    /// The chain as stored by transaction `tid`: rewritten and new links now
    /// carry that serial.
    func committed(tid: TID) -> [ChainLink] {
        links.map { link in
            var link = link
            if link.serial == .zero { link.serial = tid }
            return link
        }
    }
}

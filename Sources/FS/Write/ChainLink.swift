import OFS
import Storage

/// One link of a stored `Pdata` chain as a commit needs it: which object,
/// which revision (the serial a rewrite must expect) and which bytes of the
/// file it holds.
struct ChainLink: Sendable, Equatable {
    var oid: OID
    var serial: TID
    var start: UInt64
    var length: UInt64

    var end: UInt64 { start + length }

    /// Every link of the chain starting at `first`, in file order. Reads two
    /// small pieces of each record (``PdataLink``), never the payloads.
    static func walk(from first: OID, storage: any ObjectStorage) throws(FSError) -> [ChainLink] {
        var links: [ChainLink] = []
        var seen: Set<OID> = []
        var next: OID? = first
        var start: UInt64 = 0
        while let oid = next {
            guard seen.insert(oid).inserted else { throw .corruptObject("Pdata chain loops back to \(oid)") }
            let link: PdataLink
            do {
                link = try PdataLink.read(oid, storage: storage)
            } catch {
                throw FSError(error)
            }
            links.append(ChainLink(oid: oid, serial: link.tid, start: start, length: UInt64(link.length)))
            start += UInt64(link.length)
            next = link.next
        }
        return links
    }
}

/// chmod, utimens and setxattr changes waiting to be written: applied to the
/// object's state by the next commit that rewrites it.
struct MetadataChange: Sendable, Equatable {
    /// Permission bits, kept in ``PosixAttributes/modeKey``.
    var mode: UInt32?
    /// Seconds since the epoch, kept in ``PosixAttributes/mtimeKey``.
    var modificationTime: Double?
    var contentType: String?
    var title: String?

    var isEmpty: Bool { self == MetadataChange() }

    /// `other`'s settings win where both have one.
    mutating func merge(_ other: MetadataChange) {
        mode = other.mode ?? mode
        modificationTime = other.modificationTime ?? modificationTime
        contentType = other.contentType ?? contentType
        title = other.title ?? title
    }
}

import Storage

/// How Zope stores a body of `size` bytes, link for link, as `OFS/Image.py File._read_data` cuts it
/// (zodb_formats §6.6), with `n = 1 << 16`:
/// - `size < n`: inline bytes in the File's `data`, no `Pdata`;
/// - `n ≤ size ≤ 2n`: one `Pdata` holding everything, stored without a `next` key;
/// - `size > 2n`: a chain built from the end towards the front — each step takes `pos = end - n`,
///   or `0` once `pos < n` — so every link is exactly `n` bytes except the first, which holds the
///   remainder plus one chunk (`n ≤ first < 2n`). Each link stores `next` (`None` on the last).
///
/// Because the chain is built back to front and `Connection.add` hands out an oid per link as it is
/// made, the last link has the lowest new oid and the first link the highest; the File itself (when
/// new) got its oid before any link.
public struct PdataChainLayout: Sendable, Equatable {
    /// `n` in `_read_data`.
    public static let chunkSize = 1 << 16

    public enum Storage: Sendable, Equatable {
        /// The bytes are the File's own `data`.
        case inline
        /// One `Pdata` with `data` only.
        case singlePdata
        /// Several links, each with `data` and `next`.
        case chain
    }

    public let size: UInt64
    /// Payload length of each link, first link first; empty for `.inline`.
    public let linkLengths: [Int]

    public init(size: UInt64) {
        self.size = size
        let n = UInt64(Self.chunkSize)
        if size < n {
            linkLengths = []
        } else if size <= 2 * n {
            linkLengths = [Int(size)]
        } else {
            var lengths: [Int] = []
            var end = size
            while end > 0 {
                var position = end - min(end, n)
                if position < n { position = 0 }
                lengths.append(Int(end - position))
                end = position
            }
            linkLengths = lengths.reversed()
        }
    }

    public var storage: Storage {
        switch linkLengths.count {
        case 0: .inline
        case 1: .singlePdata
        default: .chain
        }
    }

    /// Offset in the body where each link's payload starts, first link first.
    public var linkOffsets: [UInt64] {
        var offsets: [UInt64] = []
        offsets.reserveCapacity(linkLengths.count)
        var offset: UInt64 = 0
        for length in linkLengths {
            offsets.append(offset)
            offset += UInt64(length)
        }
        return offsets
    }

    /// The index of the link holding body byte `offset`, nil past the end or for inline bodies.
    public func link(containing offset: UInt64) -> Int? {
        guard offset < size, !linkLengths.isEmpty else { return nil }
        let first = UInt64(linkLengths[0])
        if offset < first { return 0 }
        return 1 + Int((offset - first) / UInt64(Self.chunkSize))
    }

    /// The links' oids in body order, given oids in the order they were allocated (ascending, as
    /// `new_oid` hands them out): the first allocated goes to the last link, as `_read_data`'s
    /// back-to-front loop assigns them. `allocated` must hold one oid per link.
    public func oidsInFileOrder(allocated: [OID]) -> [OID] {
        precondition(allocated.count == linkLengths.count, "one oid per Pdata link")
        return allocated.reversed()
    }
}

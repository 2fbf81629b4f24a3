import Pickle
import Storage
import ZODB

/// One link of a `Pdata` chain (zodb_formats §6.6): where its `data`
/// payload lies in Data.fs and which link follows.
///
/// Reading a link decodes only the few hundred bytes around the payload —
/// the record's head (class pickle, the state up to the `BINBYTES` length)
/// and its tail (the `next` reference) — and never copies the 64 KiB
/// payload: the chunk table is built from these, and reads then move the
/// payload straight from Data.fs.
public struct PdataLink: Sendable, Equatable {
    public enum Payload: Sendable, Equatable {
        /// Absolute position and length of the payload bytes in Data.fs.
        case stored(offset: UInt64, length: Int)
        /// Payload too small to be left in place (or stored as text).
        case inline([UInt8])
        /// Bytes `offset ..< offset + length` of the link's record pickle as
        /// the storage's `load` returns it: for storages without a file to
        /// read positions from (a ZEO server), where the record itself —
        /// held in the client's cache — is the payload's home.
        case inRecord(offset: Int, length: Int)
    }
    public var oid: OID
    public var tid: TID
    public var payload: Payload
    public var next: OID?
    /// The storage generation ``Payload/stored(offset:length:)`` positions
    /// belong to (a pack moves every record; see `FileStorage.generation`).
    public var generation: UInt64 = 0

    public var length: Int {
        switch payload {
        case .stored(_, let length): return length
        case .inline(let bytes): return bytes.count
        case .inRecord(_, let length): return length
        }
    }

    /// Head and tail sizes read around the payload: the head covers the
    /// class pickle and the state up to the payload's length field, the
    /// tail the `next` reference, in every pickle protocol ZODB writes.
    static let headBytes = 512
    static let tailBytes = 256
    /// Payloads at least this long are located rather than copied.
    static let inPlaceThreshold = 256

    /// - Parameter whole: read the whole record at once (a copy of its
    ///   payload, then dropped): for the first link of a cold read, where
    ///   the head, the tail and then the payload would each wait for the
    ///   disk in turn, and one read brings all three into the page cache.
    public static func read(_ oid: OID, storage: any ObjectStorage, whole: Bool = false) throws(RecordError) -> PdataLink {
        guard let storage = storage as? FileStorage else { return try readLoaded(oid, storage: storage) }
        let location: DataRecord
        do {
            location = try storage.currentRecord(oid)
        } catch {
            throw .storage(error)
        }
        let total = location.pickleLength
        let input: PickleInput
        do {
            if total <= headBytes + tailBytes || whole {
                input = PickleInput(try storage.read(at: location.pickleOffset, count: total, generation: location.generation))
            } else {
                let head = try storage.read(at: location.pickleOffset, count: headBytes, generation: location.generation)
                let tail = try storage.read(
                    at: location.pickleOffset + UInt64(total - tailBytes), count: tailBytes, generation: location.generation)
                input = PickleInput(head: head, tail: tail, totalLength: total)
            }
        } catch {
            throw .storage(error)
        }
        let state = try decodeState(oid, input)
        return try link(oid, tid: location.tid, state: state, generation: location.generation) { offset, length in
            .stored(offset: location.pickleOffset + UInt64(offset), length: length)
        }
    }

    /// The state pickle of a Pdata record, its payload left in the input.
    private static func decodeState(_ oid: OID, _ input: PickleInput) throws(RecordError) -> PickleValue {
        var decoder = PickleDecoder(input, largeBytesThreshold: inPlaceThreshold)
        do {
            _ = try decoder.decodeNext()
            return try decoder.decodeNext()
        } catch {
            throw .badPickle(oid: oid, reason: "\(error)")
        }
    }

    /// The link a decoded Pdata state describes; `place` turns a payload
    /// left in the input (offset in the pickle, length) into its address.
    private static func link(_ oid: OID, tid: TID, state: PickleValue, generation: UInt64,
                             place: (Int, Int) -> Payload) throws(RecordError) -> PdataLink {
        let payload: Payload
        switch state["data"] {
        case .byteRange(let offset, let length)?:
            payload = place(offset, length)
        case .bytes(let bytes)?:
            payload = .inline(bytes)
        case .string(let text)?:
            payload = .inline(Array(text.utf8))
        default:
            throw .unexpectedState(oid: oid, expected: "a Pdata state with data")
        }
        let next = state["next"].flatMap { PersistentReference($0)?.oid }
        return PdataLink(oid: oid, tid: tid, payload: payload, next: next, generation: generation)
    }

    /// A link of a storage that hands out whole records: the record is
    /// loaded (and so cached by the storage) and decoded without copying
    /// the payload, which then stays addressed inside the record.
    private static func readLoaded(_ oid: OID, storage: any ObjectStorage) throws(RecordError) -> PdataLink {
        let loaded: (data: [UInt8], tid: TID)
        do {
            loaded = try storage.load(oid)
        } catch {
            throw .storage(error)
        }
        let state = try decodeState(oid, PickleInput(loaded.data))
        return try link(oid, tid: loaded.tid, state: state, generation: 0) { offset, length in
            .inRecord(offset: offset, length: length)
        }
    }
}

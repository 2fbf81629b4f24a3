import OFS
import Pickle
import Storage
import ZODB

/// What zodbfs does with the bytes of a data record, for one arbitrary input:
/// the pickle decoder and the reference scanner over the whole input and over
/// a head and tail of it (as `PdataLink` reads a large record), then the ZODB
/// and OFS layers over the decoded record (class metadata, classification as
/// folder, file or unmapped object, the text rendering, re-encoding).
///
/// A Data.fs is input zodbfs does not control — a store from elsewhere, a
/// damaged disk — so every input must end in a value or a thrown error; a
/// trap, a hang or an allocation out of proportion to the input is a bug.
public enum PickleFuzzTarget {
    /// Payloads at least this long are located, not read, in the head-and-tail
    /// pass (as `PdataLink` does with a larger threshold).
    static let largeBytesThreshold = 8

    public static func run(_ bytes: [UInt8]) {
        decodeRecord(PickleInput(bytes), largeBytesThreshold: nil)
        _ = try? ReferenceScanner.references(in: bytes)

        // The first and last third, with the middle missing: every byte the
        // decoder needs from the gap must throw `.unavailable`.
        if bytes.count >= 3 {
            let part = bytes.count / 3
            let split = PickleInput(head: Array(bytes.prefix(part)), tail: Array(bytes.suffix(part)), totalLength: bytes.count)
            decodeRecord(split, largeBytesThreshold: largeBytesThreshold)
            _ = try? ReferenceScanner.references(in: split)
        }

        interpret(bytes, as: .root)
        interpret(bytes, as: OID(1))
    }

    /// Both pickles of a record with one decoder, as `ObjectRecord` and
    /// `PdataLink` decode them, then whatever follows (a decoder must also
    /// survive being asked for more).
    static func decodeRecord(_ input: PickleInput, largeBytesThreshold: Int?) {
        var decoder = PickleDecoder(input, largeBytesThreshold: largeBytesThreshold)
        for _ in 0..<3 where !decoder.isAtEnd {
            guard (try? decoder.decodeNext()) != nil else { return }
        }
    }

    /// The record as the object layer sees it. The root oid takes the
    /// root-mapping path of `ZopeObject`, any other oid the folder and file paths.
    static func interpret(_ bytes: [UInt8], as oid: OID) {
        guard let record = try? ObjectRecord(oid: oid, tid: TID(rawValue: 1), data: bytes) else { return }
        let object = ZopeObject(record: record)
        _ = object.metaType
        _ = object.title
        if case .file(let file) = object, case .inline(let body) = file.body { _ = body.count }
        _ = StateRendering.render(record)
        _ = try? ObjectLoader.references(in: bytes)
        if let encoded = try? RecordEncoder.encode(record) {
            _ = try? ObjectRecord(oid: oid, tid: record.tid, data: encoded)
        }
    }
}

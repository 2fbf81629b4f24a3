import Storage
import ZODB

/// The record of one `OFS.Image.Pdata` link as ZODB writes it for `Pdata(data)`, split around the
/// payload so a caller can stream the payload (up to 128 KiB) from elsewhere without building the
/// record in memory: `prefix + payload + suffix` is the record (zodb_formats §6.6).
///
/// The state is the instance dict in `__dict__` order — `data`, then `next` when it was set — from
/// one pickler whose memo the class pickle started:
/// ```
/// 80 03 c'OFS.Image\nPdata\n' q00 .  80 03 } q01 [(] X'data' q02 C|B <len> <payload> q03
///     (no next)   s .
///     next None   X'next' q04 N u .
///     next link   X'next' q04 C 08 <oid> q05 h00 86 q06 Q u .
/// ```
/// `File._read_data` sets `next` on every link of a chain (`None` on the last), but never on the
/// single `Pdata` of a body of 64–128 KiB, so that record has no `next` key at all.
public struct PdataRecord: Sendable, Equatable {
    public static let pdataClass = ClassName(module: "OFS.Image", name: "Pdata")

    public enum Next: Sendable, Equatable {
        /// No `next` attribute: the single `Pdata` of a body of `n ≤ size ≤ 2n` bytes.
        case absent
        /// `next = None`: the last link of a chain.
        case none
        /// `next` = a reference to the following link, `(oid, Pdata)` with the class from the memo.
        case link(OID)
    }

    /// The class pickle and the state pickle up to and including the payload's length field.
    public let prefix: [UInt8]
    public let payloadLength: Int
    /// Everything after the payload: its memo entry, `next`, and the closing opcodes.
    public let suffix: [UInt8]

    /// - Precondition: `payloadLength` fits `BINBYTES`' 32-bit length.
    public init(payloadLength: Int, next: Next) {
        precondition(payloadLength >= 0 && UInt64(payloadLength) <= UInt64(UInt32.max), "Pdata payload too long")
        self.payloadLength = payloadLength
        var prefix: [UInt8] = [0x80, 0x03, 0x63]                       // PROTO 3, GLOBAL
        prefix += Array("OFS.Image\nPdata\n".utf8)
        prefix += [0x71, 0x00, 0x2E]                                   // BINPUT 0, STOP
        prefix += [0x80, 0x03, 0x7D, 0x71, 0x01]                       // PROTO 3, EMPTY_DICT, BINPUT 1
        if next != .absent { prefix.append(0x28) }                     // MARK (two items: SETITEMS)
        prefix += Self.unicode("data") + [0x71, 0x02]                  // BINUNICODE 'data', BINPUT 2
        if payloadLength < 256 {
            prefix += [0x43, UInt8(payloadLength)]                     // SHORT_BINBYTES
        } else {
            prefix.append(0x42)                                        // BINBYTES, 4-byte length
            for shift in stride(from: 0, to: 32, by: 8) { prefix.append(UInt8(truncatingIfNeeded: payloadLength >> shift)) }
        }
        self.prefix = prefix

        var suffix: [UInt8] = [0x71, 0x03]                             // BINPUT 3 (the payload)
        switch next {
        case .absent:
            suffix.append(0x73)                                        // SETITEM
        case .none:
            suffix += Self.unicode("next") + [0x71, 0x04, 0x4E, 0x75]  // 'next' BINPUT 4, NONE, SETITEMS
        case .link(let oid):
            suffix += Self.unicode("next") + [0x71, 0x04]              // 'next' BINPUT 4
            suffix += [0x43, 0x08] + oid.bytes + [0x71, 0x05]          // SHORT_BINBYTES oid, BINPUT 5
            suffix += [0x68, 0x00, 0x86, 0x71, 0x06, 0x51, 0x75]       // BINGET 0, TUPLE2, BINPUT 6, BINPERSID, SETITEMS
        }
        suffix.append(0x2E)                                            // STOP
        self.suffix = suffix
    }

    /// Length of the whole record.
    public var recordLength: Int { prefix.count + payloadLength + suffix.count }

    /// The whole record, for payloads already in memory.
    public func record(payload: some Collection<UInt8>) -> [UInt8] {
        precondition(payload.count == payloadLength, "payload length differs from the framing's")
        var record = prefix
        record.reserveCapacity(recordLength)
        record += payload
        record += suffix
        return record
    }

    /// `BINUNICODE` of an ASCII key.
    private static func unicode(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0x58, UInt8(utf8.count), 0, 0, 0] + utf8
    }
}

/// Why a pickle could not be decoded or scanned, and where.
///
/// Every malformed input ends in one of these rather than a crash: a record read from a damaged
/// `Data.fs` must fail one lookup, not the whole mount. `offset` is absolute within the pickle input
/// (the whole record, both pickles), so a caller that knows the record's file position can point at
/// the exact byte.
public struct PickleError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The input ended inside an opcode or its operand, or before `STOP`.
        case truncated
        /// The byte lies in the part of a head-and-tail `PickleInput` that was not supplied.
        case unavailable
        /// A length operand (`BINBYTES`, `BINUNICODE8`, `LONG4`, …) runs past the end of the input.
        case lengthBeyondInput(UInt64)
        /// A byte that is not a pickle opcode in protocols 0–5.
        case unknownOpcode(UInt8)
        /// A real opcode that cannot occur in a ZODB record: `EXT1/2/4` need the copyreg extension
        /// registry, `NEXT_BUFFER`/`READONLY_BUFFER` need out-of-band buffers.
        case unsupportedOpcode(Opcode)
        /// `PROTO` named a protocol newer than 5.
        case unsupportedProtocol(UInt8)
        /// An opcode needed more values than there are above the innermost `MARK`.
        case stackUnderflow
        /// An opcode that consumes up to a `MARK` found none.
        case missingMark
        /// `GET`/`BINGET`/`LONG_BINGET` named a memo key nothing was `PUT` into.
        case memoKeyMissing(Int)
        /// A text operand (protocol 0) or a length field is not well formed.
        case invalidOperand(String)
        /// A value of the wrong kind for the opcode, e.g. `REDUCE` arguments that are not a tuple.
        case unexpectedValue(String)
        /// `DICT`/`SETITEMS` with a key but no value.
        case oddItemCount
        /// The decoded value would nest deeper than the decoder's limit.
        case nestingTooDeep(limit: Int)
        /// The decoded value tree would hold more values than the decoder's limit: a pickle that
        /// puts one memo'd container into another twice, level after level, describes a tree
        /// exponentially larger than itself, which every walk over the value would then take.
        case tooManyValues(limit: Int)
        /// A container reaches itself (`l = []; l.append(l)`); a value tree cannot hold that.
        case cyclicStructure
        /// A persistent id that `referencesf` would turn into an oid is not an 8-byte oid.
        case invalidReference(String)
    }

    public var reason: Reason
    /// Absolute byte offset of the opcode or operand at fault.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        "pickle error at offset \(offset): \(reason)"
    }
}

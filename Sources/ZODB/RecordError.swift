import Storage

/// A record that the storage returned but that cannot be understood as a
/// ZODB object. Always names the oid: the store itself is intact, only this
/// object is unreadable.
public enum RecordError: Error, Sendable, CustomStringConvertible {
    case storage(StorageError)
    case badPickle(oid: OID, reason: String)
    case unknownClassMetadata(oid: OID)
    /// The state does not have the shape its class requires.
    case unexpectedState(oid: OID, expected: String)

    public var description: String {
        switch self {
        case .storage(let e): return "\(e)"
        case .badPickle(let oid, let reason): return "object \(oid): undecodable pickle: \(reason)"
        case .unknownClassMetadata(let oid): return "object \(oid): unrecognised class metadata"
        case .unexpectedState(let oid, let expected): return "object \(oid): state is not \(expected)"
        }
    }
}

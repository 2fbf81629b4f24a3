import Storage
import ZODB

/// Why adding, removing or renaming a child of a Zope container failed.
/// An editor checks ids and children before it changes anything, so after
/// `invalidID` or `noSuchChild` it is as it was and can be used further;
/// after `record` or `unexpectedState` (an unreadable or malformed store)
/// it should be dropped.
public enum ContainerEditError: Error, Sendable, CustomStringConvertible {
    /// Zope would refuse the id (`OFS/ObjectManager.py: checkValidId`).
    case invalidID(InvalidObjectID)
    /// The container has no child of that id.
    case noSuchChild(String)
    /// A record the edit needs could not be read.
    case record(RecordError)
    /// A record does not have the shape its class requires (or a BTree
    /// holds keys Python could not compare), so editing it would guess.
    case unexpectedState(oid: OID, expected: String)

    public var description: String {
        switch self {
        case .invalidID(let error): return error.description
        case .noSuchChild(let id): return "no child named \"\(id)\""
        case .record(let error): return error.description
        case .unexpectedState(let oid, let expected): return "object \(oid): state is not \(expected)"
        }
    }
}

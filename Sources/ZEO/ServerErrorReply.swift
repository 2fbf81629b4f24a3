import Pickle
import Storage

/// An error reply (`ZEO/asyncio/marshal.py`, `reduce_exception`): the
/// exception's qualified class name and its `__dict__` (or its `args`
/// when the dict is empty), turned into the ``StorageError`` the layers
/// above already handle.
struct ServerErrorReply: Error, Sendable {
    var className: String
    var attributes: PickleValue

    init(_ arguments: PickleValue) {
        if case .tuple(let parts) = arguments, parts.count == 2, let name = parts[0].stringValue {
            className = name
            attributes = parts[1]
        } else {
            className = "?"
            attributes = arguments
        }
    }

    /// The class name without its module (`ConflictError`).
    var shortName: String { String(className.split(separator: ".").last ?? Substring(className)) }

    /// The positional argument `index` when the error came as `args`.
    private func argument(_ index: Int) -> PickleValue? {
        if case .tuple(let items) = attributes, index < items.count { return items[index] }
        if case .list(let items) = attributes, index < items.count { return items[index] }
        return nil
    }

    var message: String {
        if let text = attributes["message"]?.stringValue { return text }
        if let text = argument(0)?.stringValue { return text }
        return "\(attributes)"
    }

    /// - `POSKeyError(oid)`: no such object.
    /// - `ConflictError` with `oid` and `serials = (committed, expected)`
    ///   (`FileStorage.store`): a conflict the Committer retries.
    /// - `ReadOnlyError`: a read-only server or registration.
    func storageError(server: String, oid: OID? = nil) -> StorageError {
        switch shortName {
        case "POSKeyError":
            let key = argument(0)?.bytesValue.flatMap { OID(bytes: $0) } ?? oid ?? OID(0)
            return .objectNotFound(key)
        case "ConflictError", "ReadConflictError", "BTreesConflictError":
            let conflictOID = attributes["oid"]?.bytesValue.flatMap { OID(bytes: $0) } ?? oid ?? OID(0)
            var actual: TID?
            var expected: TID?
            if case .tuple(let serials)? = attributes["serials"], serials.count == 2 {
                actual = serials[0].bytesValue.flatMap { TID(bytes: $0) }
                expected = serials[1].bytesValue.flatMap { TID(bytes: $0) }
                if expected == .zero { expected = nil }
            }
            return .conflict(oid: conflictOID, expected: expected, actual: actual)
        case "ReadOnlyError":
            return .readOnly
        default:
            return .serverError(server: server, class: className, message: message)
        }
    }
}

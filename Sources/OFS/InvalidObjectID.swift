/// An id Zope would refuse for a child, with the text of Zope's
/// `BadRequest` (`OFS/ObjectManager.py: checkValidId`).
public struct InvalidObjectID: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The empty string.
        case empty
        /// A control character, DEL, `<`, `>` or `&` (`bad_id`), or a `/`.
        case illegalCharacters
        /// `.` or `..`.
        case notTraversable
        case leadingUnderscore
        /// Starts with `aq_` (acquisition's namespace).
        case acquisitionPrefix
        case trailingDoubleUnderscore
        /// Starts with `@@` or `++` (view and namespace traversal).
        case reservedForViews
        /// `REQUEST`.
        case reservedName
        /// The container already has a child of that id.
        case alreadyInUse
        /// The container has an attribute of that name that is not a child
        /// (in its state, like `title`, or on its class, like `manage_main`):
        /// Zope reports it as "already in use" too.
        case shadowsAttribute
    }

    public var id: String
    public var reason: Reason
    public var message: String

    public init(id: String, reason: Reason, message: String) {
        self.id = id
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

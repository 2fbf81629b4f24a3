/// What a transaction record says about the commit besides its data: the
/// user, description and extension of ZODB's `TransactionMetaData`, written
/// into the FS30 transaction header (`ulen`/`dlen`/`elen`, each at most 65535
/// bytes, as `FileStorage._begin` checks).
public struct TransactionMetadata: Sendable, Equatable {
    /// `transaction.user`, written as UTF-8. Zope writes `"<path> <userid>"`
    /// (`"/ admin"`); empty for a commit nobody is logged in to.
    public var user: String
    /// `transaction.description`, written as UTF-8 (Zope: the published path).
    public var description: String
    /// `transaction.extension_bytes`: a pickled dict (protocol 3, as
    /// `zodbpickle.dumps(extension, 3)` makes it), or empty for no extension.
    /// Written as given; this layer never decodes it.
    public var extensionBytes: [UInt8]

    public init(user: String = "", description: String = "", extensionBytes: [UInt8] = []) {
        self.user = user
        self.description = description
        self.extensionBytes = extensionBytes
    }
}

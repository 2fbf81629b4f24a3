import Pickle
import Storage
import ZODB

/// An `OFS.Image.File` or `Image` (zodb_formats §6.4–6.6). The body is
/// either inline bytes (Zope keeps files under 64 KiB in the File record)
/// or the head of a `Pdata` chain.
public struct ZopeFile: Sendable {
    public enum Body: Sendable {
        case inline([UInt8])
        case chain(OID)
    }

    public var record: ObjectRecord
    public var size: UInt64
    public var contentType: String?
    public var body: Body

    /// Nil unless the state has `data` (bytes, text or a persistent
    /// reference) and an integer `size`.
    public init?(record: ObjectRecord) {
        let state = record.state
        guard let data = state["data"], let size = state["size"]?.intValue, size >= 0 else { return nil }
        if let ref = PersistentReference(data) {
            body = .chain(ref.oid)
        } else if let bytes = data.bytesValue {
            body = .inline(bytes)
        } else if let text = data.stringValue {
            // Python 2 `str` data that happened to be ASCII loads as text.
            body = .inline(Array(text.utf8))
        } else {
            return nil
        }
        self.record = record
        self.size = UInt64(size)
        self.contentType = state["content_type"]?.textValue
    }
}

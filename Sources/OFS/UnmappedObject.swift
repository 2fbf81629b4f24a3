import Pickle
import Storage
import ZODB

/// An object of a class zodbfs does not map (a Page Template, a user
/// folder, an application's own class). It is shown as a read-only file
/// holding a readable rendering of its state, so `grep -r` over a site finds
/// text in it; its record is never rewritten, so it stays byte-for-byte.
public struct UnmappedObject: Sendable {
    public var record: ObjectRecord
    public init(record: ObjectRecord) {
        self.record = record
    }

    /// The rendering served as the file's body.
    public var rendering: [UInt8] { Array(StateRendering.render(record).utf8) }
}

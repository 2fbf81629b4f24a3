#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pickle
import Storage
import ZODB

/// The state of an `OFS.Image.File` (or `Image`) as Zope leaves it (`OFS/Image.py`; zodb_formats
/// §6.4–6.5), for new files and for a new body in an existing one.
///
/// Key order is `__dict__` insertion order, which is what the pickle writes, so following it makes
/// records byte-identical to Zope's:
/// - `manage_addFile(id, file)` runs `File.__init__(id, title, b'', content_type, precondition)`:
///   `__name__`, `title`, `precondition`, then `update_data` sets `content_type`, `size`, `data` and
///   `http__refreshEtag` the etag; the upload that follows only changes values of existing keys.
///   With no logged-in user, `_setObject` adds neither `_owner` nor `__ac_local_roles__`.
/// - `Image.update_data` sets `size` and `data` before `content_type`, and `width`/`height` only when
///   `getImageInfo` recognises the bytes (so, for `manage_addImage`, after the etag).
public enum ZopeFileState {
    public static let fileClass = ClassName(module: "OFS.Image", name: "File")
    public static let imageClass = ClassName(module: "OFS.Image", name: "Image")
    /// `File.meta_type`, for the parent's `_objects` and `_mt_index`.
    public static let fileMetaType = "File"
    public static let imageMetaType = "Image"

    /// The value of `data`.
    public enum Data: Sendable, Equatable {
        /// Bodies under 64 KiB (`File._read_data`).
        case inline([UInt8])
        /// The first (or only) `Pdata` link.
        case chain(first: OID)

        var pickleValue: PickleValue {
            switch self {
            case .inline(let bytes): .bytes(bytes)
            case .chain(let first): RecordEncoder.reference(to: first, objectClass: PdataRecord.pdataClass)
            }
        }
    }

    /// `width` and `height` as `Image.update_data` stores them when `getImageInfo` recognises the format.
    public struct ImageDimensions: Sendable, Equatable {
        public var width: Int64
        public var height: Int64
        public init(width: Int64, height: Int64) {
            self.width = width
            self.height = height
        }
    }

    /// The state of a new `File` as `manage_addFile(id, file, title)` leaves it.
    /// - Parameter contentType: see `ContentTypeGuess.contentType(name:body:)` for what Zope would guess.
    /// - Parameter etag: `_EtagSupport__etag`; by default made from the current time as Zope does.
    public static func new(
        id: String, title: String = "", contentType: String, size: UInt64, data: Data, etag: String = ZopeFileState.etag()
    ) -> PickleValue {
        .dict([
            entry("__name__", .string(id)),
            entry("title", .string(title)),
            entry("precondition", .string("")),
            entry("content_type", .string(contentType)),
            entry("size", .int(Int64(size))),
            entry("data", data.pickleValue),
            entry(etagKey, .string(etag)),
        ])
    }

    /// The state of a new `Image` as `manage_addImage(id, file, title)` leaves it; `dimensions` only
    /// when the body is an image `getImageInfo` recognises.
    public static func newImage(
        id: String, title: String = "", contentType: String, size: UInt64, data: Data,
        dimensions: ImageDimensions? = nil, etag: String = ZopeFileState.etag()
    ) -> PickleValue {
        var entries = [
            entry("__name__", .string(id)),
            entry("title", .string(title)),
            entry("precondition", .string("")),
            entry("size", .int(Int64(size))),
            entry("data", data.pickleValue),
            entry("content_type", .string(contentType)),
            entry(etagKey, .string(etag)),
        ]
        if let dimensions {
            entries.append(entry("width", .int(dimensions.width)))
            entries.append(entry("height", .int(dimensions.height)))
        }
        return .dict(entries)
    }

    /// What changes in an existing File's state with a new body, as `update_data` (via
    /// `manage_upload` or `PUT`) and `manage_edit`/`_setId` for the optional fields would change it.
    public struct Update: Sendable, Equatable {
        public var size: UInt64
        public var data: Data
        /// A new `_EtagSupport__etag`; `update_data` always refreshes it.
        public var etag: String
        /// Nil keeps the stored content type.
        public var contentType: String?
        /// Nil keeps the stored title.
        public var title: String?
        /// `__name__` (the id); nil keeps it.
        public var name: String?
        /// For an `Image`: new `width`/`height` when the new body is a recognised image; nil keeps them.
        public var dimensions: ImageDimensions?

        public init(size: UInt64, data: Data, etag: String = ZopeFileState.etag()) {
            self.size = size
            self.data = data
            self.etag = etag
        }
    }

    /// The state is not a dict, so it is no File's state.
    public struct NotAFileState: Error, Sendable, CustomStringConvertible {
        public var description: String { "the state of a File must be a dict" }
    }

    /// `state` with `update` applied. Every other key keeps its value and its place; a key that is
    /// missing (e.g. `size` in a very old File) is added at the end, in the order Zope's `update_data`
    /// would set it.
    public static func updated(_ state: PickleValue, with update: Update) throws(NotAFileState) -> PickleValue {
        guard case .dict(var entries) = state else { throw NotAFileState() }
        if let name = update.name { set(&entries, "__name__", .string(name)) }
        if let title = update.title { set(&entries, "title", .string(title)) }
        if let contentType = update.contentType { set(&entries, "content_type", .string(contentType)) }
        set(&entries, "size", .int(Int64(update.size)))
        set(&entries, "data", update.data.pickleValue)
        if let dimensions = update.dimensions {
            set(&entries, "width", .int(dimensions.width))
            set(&entries, "height", .int(dimensions.height))
        }
        set(&entries, etagKey, .string(update.etag))
        return .dict(entries)
    }

    /// `EtagSupport.__etag`, name-mangled as it is stored.
    public static let etagKey = "_EtagSupport__etag"

    /// `'ts%s' % str(time.time())[2:]` (`OFS/EtagSupport.py http__refreshEtag`): Python's shortest
    /// float repr without its first two digits, e.g. `ts17171717.123456`. Swift's `description` of a
    /// `Double` is the same shortest round-trip form for every plausible clock value (both switch to
    /// exponent notation only from 1e16 on).
    public static func etag(time: Double = currentTime()) -> String {
        "ts" + String(time.description.dropFirst(2))
    }

    /// `time.time()`: `CLOCK_REALTIME` in seconds.
    public static func currentTime() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)) / 1e9
    }

    private static func entry(_ key: String, _ value: PickleValue) -> PickleDictEntry {
        PickleDictEntry(key: .string(key), value: value)
    }

    /// Sets the last entry named `key` (the one Python keeps), or appends it.
    private static func set(_ entries: inout [PickleDictEntry], _ key: String, _ value: PickleValue) {
        if let index = entries.lastIndex(where: { $0.key.stringValue == key }) {
            entries[index].value = value
        } else {
            entries.append(entry(key, value))
        }
    }
}

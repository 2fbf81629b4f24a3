import Pickle
import Storage
import ZODB

extension PickleValue {
    /// A persistent reference as `ObjectWriter.persistent_id` writes it for
    /// an ordinary class in the same database: `(oid, class)` (zodb_formats
    /// §5.3). Shorthand for ``RecordEncoder/reference(to:objectClass:)``.
    public static func reference(to oid: OID, objectClass: ClassName) -> PickleValue {
        RecordEncoder.reference(to: oid, objectClass: objectClass)
    }
}

import Pickle
import Storage
import ZODB

extension PickleValue {
    /// A persistent reference as `ObjectWriter.persistent_id` writes it for
    /// an ordinary class in the same database: `(oid, class)` (zodb_formats §5.3).
    public static func reference(to oid: OID, objectClass: ClassName) -> PickleValue {
        .persistentID(.tuple([.bytes(oid.bytes), .global(module: objectClass.module, name: objectClass.name)]))
    }
}

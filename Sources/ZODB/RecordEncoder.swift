import Pickle
import Storage

/// The write side of `ObjectRecord`: record bytes as ZODB 6's `ObjectWriter.serialize` makes them —
/// the class metadata pickle, then the state pickle, from one protocol-3 pickler so the two share a
/// memo (`ZODB/serialize.py`, `ObjectWriter._dump`; zodb_formats §5.1). A reference in the state to
/// an object of the record's own class therefore reads `BINGET 0`, as in a `Pdata`'s `next` or an
/// `OOBucket`'s next bucket.
public enum RecordEncoder {
    /// A record from class metadata in any form `ObjectRecord` reads (a `GLOBAL`, `(class, newargs)`,
    /// `((module, name), args)`) and a state. Use this to write back metadata exactly as it was read.
    public static func encode(classMetadata: PickleValue, state: PickleValue) throws(PickleError) -> [UInt8] {
        var encoder = PickleEncoder()
        try encoder.encode(classMetadata)
        try encoder.encode(state)
        return encoder.bytes
    }

    /// A record of a new object of an ordinary class (no `__getnewargs__`): the metadata is the class
    /// itself, `GLOBAL module name`.
    public static func encode(objectClass: ClassName, state: PickleValue) throws(PickleError) -> [UInt8] {
        try encode(classMetadata: classMetadata(objectClass, arguments: nil), state: state)
    }

    /// `record` as ZODB 6 would store it now, typically after its `state` was edited.
    ///
    /// The metadata is rebuilt from `objectClass` and `classArguments` the way `serialize` builds it:
    /// the class alone, or `(class, newargs)`. Two old forms therefore come back in today's form, which
    /// ZODB reads the same: the legacy `(class, None)` as the class alone, and a persistent class's
    /// `((module, name), args)` as `(class, args)`. To keep those byte for byte, decode the record's
    /// first pickle and use `encode(classMetadata:state:)`.
    public static func encode(_ record: ObjectRecord) throws(PickleError) -> [UInt8] {
        try encode(classMetadata: classMetadata(record.objectClass, arguments: record.classArguments), state: record.state)
    }

    /// The class metadata `ObjectWriter.serialize` pickles: `klass`, or `(klass, newargs)` when the class
    /// has `__getnewargs__` (whose result, possibly `()`, is `arguments`).
    public static func classMetadata(_ objectClass: ClassName, arguments: PickleValue?) -> PickleValue {
        let global = PickleValue.global(module: objectClass.module, name: objectClass.name)
        guard let arguments else { return global }
        return .tuple([global, arguments])
    }

    /// A reference to `oid` as `ObjectWriter.persistent_id` writes it for an object of an ordinary class
    /// in the same database: the persistent id `(oid, class)`, the oid as 8 bytes (zodb_formats §5.3).
    /// Encoded, it is `SHORT_BINBYTES 08 <oid> GLOBAL|BINGET TUPLE2 BINPUT BINPERSID`.
    public static func reference(to oid: OID, objectClass: ClassName) -> PickleValue {
        .persistentID(.tuple([.bytes(oid.bytes), .global(module: objectClass.module, name: objectClass.name)]))
    }
}

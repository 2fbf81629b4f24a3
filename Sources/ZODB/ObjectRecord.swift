import Pickle
import Storage

/// One revision of a persistent object as ZODB stores it: a class pickle and
/// a state pickle written back to back by one pickler, so they share a memo
/// (`ZODB/serialize.py`, `ObjectWriter._dump`). Decoded once per revision;
/// the byte path never comes through here.
public struct ObjectRecord: Sendable {
    public var oid: OID
    /// The tid of the revision (`_p_serial`), also the object's mtime.
    public var tid: TID
    public var objectClass: ClassName
    /// `__getnewargs__` arguments when the class metadata carries them.
    public var classArguments: PickleValue?
    /// What `__getstate__` returned: a dict for most objects, a tuple for BTrees.
    public var state: PickleValue

    public init(oid: OID, tid: TID, objectClass: ClassName, classArguments: PickleValue?, state: PickleValue) {
        self.oid = oid
        self.tid = tid
        self.objectClass = objectClass
        self.classArguments = classArguments
        self.state = state
    }

    /// Decodes the two pickles of a record.
    ///
    /// Class metadata forms accepted (`ZODB/serialize.py`, `ObjectReader.getClassName`):
    /// - `GLOBAL module name` — what ZODB 6 writes for ordinary classes;
    /// - `(class, newargs)` — classes with `__getnewargs__`, and the legacy `(class, None)`;
    /// - `((module, name), args)` — persistent classes and the legacy form.
    public init(oid: OID, tid: TID, data: [UInt8]) throws(RecordError) {
        var decoder = PickleDecoder(bytes: data)
        let meta: PickleValue
        let state: PickleValue
        do {
            meta = try decoder.decodeNext()
            state = try decoder.decodeNext()
        } catch {
            throw RecordError.badPickle(oid: oid, reason: "\(error)")
        }
        let (cls, args) = try Self.className(from: meta, oid: oid)
        self.init(oid: oid, tid: tid, objectClass: cls, classArguments: args, state: state)
    }

    static func className(from meta: PickleValue, oid: OID) throws(RecordError) -> (ClassName, PickleValue?) {
        switch meta {
        case .global(let module, let name):
            return (ClassName(module: module, name: name), nil)
        case .tuple(let items) where items.count == 2:
            switch items[0] {
            case .global(let module, let name):
                return (ClassName(module: module, name: name), items[1].isNone ? nil : items[1])
            case .tuple(let mn) where mn.count == 2:
                if let module = mn[0].stringValue, let name = mn[1].stringValue {
                    return (ClassName(module: module, name: name), items[1].isNone ? nil : items[1])
                }
            default: break
            }
        default: break
        }
        throw RecordError.unknownClassMetadata(oid: oid)
    }
}

/// A Python class as a record names it.
public struct ClassName: Sendable, Hashable, CustomStringConvertible {
    public var module: String
    public var name: String
    public init(module: String, name: String) {
        self.module = module
        self.name = name
    }
    /// `module.name`, as Python prints a qualified class name.
    public var description: String { "\(module).\(name)" }
}

import Pickle
import Storage

/// A reference from one object to another, decoded from a persistent id
/// (argument of `BINPERSID`), in every form `ObjectWriter.persistent_id`
/// writes (zodb_formats §5.3):
/// `(oid, class)`, bare `oid`, `['w', (oid[, db])]`, `['m', (db, oid, class)]`,
/// `['n', (db, oid)]`, and the legacy `[oid]` weak reference.
public struct PersistentReference: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case strong
        case weak
        /// To an object in another database of a multi-database; zodbfs shows
        /// such objects as unmapped, since their oid is not in this store.
        case crossDatabase(String)
    }
    public var oid: OID
    /// The class when the reference carries it (saves a load to classify).
    public var objectClass: ClassName?
    public var kind: Kind

    public init(oid: OID, objectClass: ClassName?, kind: Kind) {
        self.oid = oid
        self.objectClass = objectClass
        self.kind = kind
    }

    /// Nil when `value` is not a persistent id or not one of ZODB's forms.
    public init?(_ value: PickleValue) {
        guard case .persistentID(let id) = value else { return nil }
        switch id {
        case .bytes, .string:
            // Protocol-1 records (Python 2 era) hold oids as byte strings,
            // which decode as text when ASCII: `asciiBytes` gives them back.
            guard let b = id.asciiBytes, let oid = OID(bytes: b) else { return nil }
            self.init(oid: oid, objectClass: nil, kind: .strong)
        case .tuple(let items) where !items.isEmpty:
            guard let b = items[0].asciiBytes, let oid = OID(bytes: b) else { return nil }
            var cls: ClassName?
            if items.count > 1, case .global(let m, let n) = items[1] { cls = ClassName(module: m, name: n) }
            self.init(oid: oid, objectClass: cls, kind: .strong)
        case .list(let items) where !items.isEmpty:
            if items.count == 1, let b = items[0].asciiBytes, let oid = OID(bytes: b) {
                self.init(oid: oid, objectClass: nil, kind: .weak)
                return
            }
            guard let tag = items[0].stringValue, items.count == 2,
                  let args = items[1].tupleElements else { return nil }
            switch tag {
            case "w":
                guard let b = args.first?.asciiBytes, let oid = OID(bytes: b) else { return nil }
                self.init(oid: oid, objectClass: nil, kind: .weak)
            case "m", "n":
                guard args.count >= 2, let db = args[0].stringValue, let b = args[1].asciiBytes,
                      let oid = OID(bytes: b) else { return nil }
                var cls: ClassName?
                if args.count > 2, case .global(let m, let n) = args[2] { cls = ClassName(module: m, name: n) }
                self.init(oid: oid, objectClass: cls, kind: .crossDatabase(db))
            default:
                return nil
            }
        default:
            return nil
        }
    }
}

import Pickle
import Storage
import ZODB

/// One object a container edit wants stored: the class and the state that
/// `__getstate__` would return, ready for the record writer (whose class
/// pickle is just the class global, `ZODB/serialize.py ObjectWriter`).
public struct ChangedObject: Sendable, Equatable {
    public var oid: OID
    public var objectClass: ClassName
    public var state: PickleValue
    /// The tid of the revision this one replaces (the `oldserial` of ZODB's
    /// `store`), so a concurrent change is a conflict; nil for a new object.
    public var previousSerial: TID?

    public var isNew: Bool { previousSerial == nil }

    public init(oid: OID, objectClass: ClassName, state: PickleValue, previousSerial: TID?) {
        self.oid = oid
        self.objectClass = objectClass
        self.state = state
        self.previousSerial = previousSerial
    }
}

import Pickle
import Storage
import Testing
import ZODB

/// Every persistent-id form ZODB writes (zodb_formats §5.3).
@Suite struct PersistentReferenceTests {
    let oidBytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x2a]

    @Test func normalReferenceCarriesTheClass() {
        let ref = PersistentReference(.persistentID(.tuple([.bytes(oidBytes), .global(module: "OFS.Image", name: "File")])))
        #expect(ref == PersistentReference(oid: OID(0x2a), objectClass: ClassName(module: "OFS.Image", name: "File"), kind: .strong))
    }

    @Test func bareOid() {
        #expect(PersistentReference(.persistentID(.bytes(oidBytes)))?.oid == OID(0x2a))
    }

    @Test func weakAndCrossDatabase() {
        let weak = PersistentReference(.persistentID(.list([.string("w"), .tuple([.bytes(oidBytes)])])))
        #expect(weak?.kind == .weak)
        let cross = PersistentReference(.persistentID(.list([.string("m"), .tuple([.string("other"), .bytes(oidBytes), .global(module: "m", name: "C")])])))
        #expect(cross?.kind == .crossDatabase("other"))
        let crossNew = PersistentReference(.persistentID(.list([.string("n"), .tuple([.string("other"), .bytes(oidBytes)])])))
        #expect(crossNew?.oid == OID(0x2a))
        let legacyWeak = PersistentReference(.persistentID(.list([.bytes(oidBytes)])))
        #expect(legacyWeak?.kind == .weak)
    }

    @Test func notAReference() {
        #expect(PersistentReference(.bytes(oidBytes)) == nil)
        #expect(PersistentReference(.persistentID(.bytes([1, 2, 3]))) == nil)
    }

    @Test func classMetadataForms() throws {
        // GLOBAL form, as ZODB 6 writes it: cOFS.Folder\nFolder\n then an empty dict.
        var record: [UInt8] = [0x80, 0x03] + Array("cOFS.Folder\nFolder\n".utf8) + [0x71, 0x00, 0x2e]
        record += [0x80, 0x03, 0x7d, 0x71, 0x01, 0x2e]
        let r = try ObjectRecord(oid: OID(1), tid: TID(2), data: record)
        #expect(r.objectClass == ClassName(module: "OFS.Folder", name: "Folder"))
        #expect(r.state.dictEntries?.isEmpty == true)
        // Garbage is a clear error, never a crash.
        #expect(throws: RecordError.self) { try ObjectRecord(oid: OID(1), tid: TID(2), data: [0x80, 0x03, 0xff]) }
    }
}

import Foundation
import Storage
import TestSupport
import Testing
import ZODB

/// The ZODB layer reads the Python-built Zope database exactly as Python's
/// ZODB does: same class and tid for every current object, and the same
/// references as `ZODB.serialize.referencesf`.
@Suite struct PythonAgreementTests {
    struct PythonObject: Decodable {
        var `class`: String
        var tid: String
        var references: [String]
    }

    @Test func everyObjectDecodesLikePython() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let result = try runCommand(try TestEnvironment.python(),
                                    [TestEnvironment.script("peers/dump_objects.py"), fixture.dataFS])
        #expect(result.status == 0, "\(result.stderr)")
        let python = try JSONDecoder().decode([String: PythonObject].self, from: result.stdoutData)
        #expect(python.count > 5000)

        let storage = try FileStorage(path: fixture.dataFS, readOnly: true)
        defer { storage.close() }
        let loader = ObjectLoader(storage: storage)
        var checked = 0
        for (hex, expected) in python {
            let oid = OID(UInt64(hex, radix: 16)!)
            let record = try loader.load(oid)
            #expect(record.objectClass.description == expected.class, "oid \(hex)")
            #expect("\(record.tid)" == expected.tid, "oid \(hex)")
            let data = try storage.load(oid).data
            let references = try ObjectLoader.references(in: data).map { "\($0)" }
            #expect(references == expected.references, "oid \(hex) \(expected.class)")
            checked += 1
        }
        #expect(checked == python.count)
    }
}

import Pickle
import Testing

/// `ReferenceScanner.references(in:)` against what `ZODB.serialize.referencesf` returned.
@Suite struct ReferenceScannerTests {
    static let fixtures: [Fixture] = [
        Fixtures.root, Fixtures.holder, Fixtures.folder, Fixtures.file, Fixtures.tree,
        Fixtures.bucketWithNext, Fixtures.lastBucket, Fixtures.manyWords,
        Fixtures.pdataFirst, Fixtures.pdataLast, Fixtures.zope2File,
    ]

    @Test(arguments: fixtures)
    func matchesReferencesf(fixture: Fixture) throws {
        #expect(try ReferenceScanner.references(in: fixture.record) == fixture.references)
    }

    @Test func weakAndCrossDatabaseReferencesAreSkipped() throws {
        // holder refers to 0x0a plainly, 0x0b by bare oid, and to 0x0a weakly, 0x01/0x02 in 'other'.
        #expect(try ReferenceScanner.references(in: Fixtures.holder.record) == [0xA, 0xB])
    }

    @Test func treeKeepsDuplicates() throws {
        // The tree names its first bucket twice: as child 0 and as firstbucket.
        #expect(try ReferenceScanner.references(in: Fixtures.tree.record) == [0x7, 0x8, 0x7])
    }

    @Test func nonASCIIPython2StringIsRead() throws {
        // referencesf raises UnicodeDecodeError here; the scanner reads the str as bytes.
        #expect(try ReferenceScanner.references(in: Fixtures.zope2FileWithBytes.record) == [0xB, 0xC, 0xB])
    }

    @Test func agreesWithTheDecoder() throws {
        // Every (oid, class) or bare-oid persistent id the decoder finds, in order.
        func oids(in value: PickleValue) -> [UInt64] {
            switch value {
            case .persistentID(.list):
                return []
            case .persistentID(let argument):
                let oid: PickleValue?
                if case .tuple(let parts) = argument { oid = parts.first } else { oid = argument }
                guard let bytes = oid?.asciiBytes, bytes.count == 8 else { return [] }
                return [bytes.reduce(0) { $0 << 8 | UInt64($1) }]
            case .tuple(let items), .list(let items), .set(let items), .frozenSet(let items):
                return items.flatMap(oids)
            case .dict(let entries):
                return entries.flatMap { oids(in: $0.key) + oids(in: $0.value) }
            default:
                return []
            }
        }
        for fixture in Self.fixtures {
            #expect(try decodeAll(fixture.record).flatMap(oids) == fixture.references)
        }
    }

    @Test func protocol0TextPersistentID() throws {
        // Class pickle `N.` and state `(lp0\nPabcdefgh\na.`: PERSID with 8 ASCII characters.
        let record = hex("4e2e") + Array("(lp0\nPabcdefgh\na.".utf8)
        #expect(try ReferenceScanner.references(in: record) == [0x6162_6364_6566_6768])
    }

    @Test func referenceThatIsNotAnOidThrows() {
        // `N.` then `C\x03abcQ.`: a 3-byte bare oid.
        #expect(throws: PickleError(.invalidReference("persistent id is not an 8-byte oid"), at: 7)) {
            _ = try ReferenceScanner.references(in: hex("4e2e" + "4303616263512e"))
        }
        // `N.` then `NQ.`: None as a persistent id.
        #expect(throws: PickleError.self) {
            _ = try ReferenceScanner.references(in: hex("4e2e" + "4e512e"))
        }
        // `N.` then `)Q.`: an empty tuple.
        #expect(throws: PickleError.self) {
            _ = try ReferenceScanner.references(in: hex("4e2e" + "29512e"))
        }
    }

    @Test func needsBothPickles() {
        let classPickleOnly = Array(Fixtures.root.record.prefix(43))
        #expect(throws: PickleError(.truncated, at: 43)) {
            _ = try ReferenceScanner.references(in: classPickleOnly)
        }
    }
}

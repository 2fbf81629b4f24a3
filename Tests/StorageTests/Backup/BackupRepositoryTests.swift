import Foundation
import Storage
import Testing
import TestSupport

/// The repository layout on its own: names, stamps, `.dat` lines, and what
/// verify reports.
@Suite struct BackupRepositoryTests {
    @Test func namesAndStamps() {
        #expect(RepositoryFile(name: "2026-11-22-03-33-40.deltafsz") == RepositoryFile(stamp: "2026-11-22-03-33-40", kind: .incrementalGzip))
        #expect(RepositoryFile(name: "tmp.tmp") == nil)
        #expect(RepositoryFile(name: "2026-11-22-03-33.fs") == nil)
        #expect(RepositoryFile(name: "2026-11-22-03-33-40.fs.old") == nil)
        #expect(RepositoryFile.stamp(for: 1_795_318_420.7) == "2026-11-22-03-33-40")
        #expect(RepositoryFile.time(of: "2026-11-22-03-33-40") == 1_795_318_420)
        #expect(RepositoryFile.stamp(parsing: "2026-11-22") == "2026-11-22-00-00-00")
        #expect(RepositoryFile.stamp(parsing: "2026-11-22-3-5") == "2026-11-22-03-05-00")
        #expect(RepositoryFile.stamp(parsing: "2026-13-22") == nil)
        #expect(RepositoryFile.stamp(parsing: "yesterday") == nil)
        // Repozo's order is the names' order: a full backup sorts after an
        // increment of the same second, which is why stamps must differ.
        #expect(RepositoryFile(name: "2026-11-22-03-33-40.deltafs")! < RepositoryFile(name: "2026-11-22-03-33-40.fs")!)
    }

    @Test func datLines() throws {
        let text = "repo/2026-11-22-03-33-40.fs 0 783 fd28d6cfd59ad28b807e79ee36893765\n"
            + "\n"
            + "/var/backups/zope repo/2026-11-22-03-33-42.deltafs 783 973 09aafda5d0d6dfed2e823fe1243d8b6e\n"
        let entries = try DatEntry.lines(of: text, path: "x.dat")
        #expect(entries.count == 2)
        #expect(entries[0] == DatEntry(path: "repo/2026-11-22-03-33-40.fs", start: 0, end: 783, md5: "fd28d6cfd59ad28b807e79ee36893765"))
        #expect(entries[1].fileName == "2026-11-22-03-33-42.deltafs" && entries[1].size == 190)
        #expect(entries[0].line == "repo/2026-11-22-03-33-40.fs 0 783 fd28d6cfd59ad28b807e79ee36893765\n")
        for bad in ["repo/a.fs 0 783", "repo/a.fs 783 0 fd28d6cfd59ad28b807e79ee36893765", "repo/a.fs 0 x fd28d6cfd59ad28b807e79ee36893765",
                    "repo/a.fs 0 783 FD28D6CFD59AD28B807E79EE36893765", "repo/a.fs 0 783 fd28"] {
            #expect(throws: BackupError.badDatLine(path: "x.dat", line: 2, text: bad)) {
                try DatEntry.lines(of: text.split(separator: "\n")[0] + "\n" + bad + "\n", path: "x.dat")
            }
        }
    }

    @Test func datLinesEndingInCarriageReturns() throws {
        // A .dat written in text mode on Windows, or edited there: repozo's
        // universal newlines read it. Swift's "\r\n" is one character.
        let full = "repo/2026-11-22-03-33-40.fs 0 783 fd28d6cfd59ad28b807e79ee36893765"
        let increment = "repo/2026-11-22-03-33-42.deltafs 783 973 09aafda5d0d6dfed2e823fe1243d8b6e"
        for ending in ["\r\n", "\r"] {
            let entries = try DatEntry.lines(of: full + ending + ending + increment + ending, path: "x.dat")
            #expect(entries.map(\.end) == [783, 973])
            #expect(entries[1].md5 == "09aafda5d0d6dfed2e823fe1243d8b6e")
        }
    }

    @Test func verifyReportsEveryProblemAndNamesItsFile() throws {
        let store = try BackupTestStore()
        defer { store.remove() }
        let repository = try store.repository()
        let start = BackupTestStore.past()
        try store.backup(into: repository, at: start)
        try store.appendWithZope("one.txt")
        let increment = try #require(try store.backup(into: repository, gzip: true, at: start + 1).file)
        #expect(try repository.verify() == [])
        // A stray backup file (a failed backup's, say) and a damaged increment.
        let stray = repository.path(of: RepositoryFile(stamp: RepositoryFile.stamp(for: start + 2), kind: .incremental))
        try Data("stray".utf8).write(to: URL(fileURLWithPath: stray))
        let bytes = try BackupTestStore.bytes(increment)
        try Data(bytes.prefix(bytes.count - 9)).write(to: URL(fileURLWithPath: increment))
        let problems = try repository.verify()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { if case .unlisted(stray, _) = $0 { true } else { false } })
        #expect(problems.contains { if case .badGzip(increment, _) = $0 { true } else { false } })
        // Files of other tools are none of its business.
        try FileManager.default.removeItem(atPath: stray)
        try Data(bytes).write(to: URL(fileURLWithPath: increment))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: repository.path + "/README"))
        #expect(try repository.verify(quick: true) == [])
    }
}

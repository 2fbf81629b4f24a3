import Storage

/// Reads an arbitrary input as the `.dat` of a full backup in a repozo
/// repository: `DatEntry.lines`, the line `DatEntry` writes back (which must
/// parse to the same entry), then the chain a restore would read and the
/// verification `zodbfs backup --verify` runs, against a repository that
/// holds the `.dat` and an empty full backup it may or may not describe.
public enum DatFileFuzzTarget {
    static let stamp = "2026-01-01-00-00-00"

    static let scratch = ScratchDirectory(for: "dat")

    public static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let entries = try? DatEntry.lines(of: text, path: "fuzz.dat") else { return }
        for entry in entries {
            _ = entry.file
            _ = entry.size
            guard DatEntry(line: Substring(entry.line.dropLast())) == entry else {
                fatalError("the .dat line \(entry.line.debugDescription) does not parse back to its entry")
            }
        }

        scratch.save(bytes, as: stamp + ".dat")
        scratch.save([], as: stamp + ".fs")
        let repository = BackupRepository(path: scratch.path)
        _ = try? repository.chain()
        _ = try? repository.verify(quick: false)
    }
}

import Storage

/// Loads an arbitrary input as a `Data.fs.index` (`IndexFile.load`, the
/// streaming parser of `fsIndex.save`'s pickles), and checks that whatever it
/// accepts survives a save and a second load unchanged: an index that loads
/// must be one zodbfs can write back (`saveIndex` on close).
public enum IndexFileFuzzTarget {
    static let scratch = ScratchDirectory(for: "index")

    public static func run(_ bytes: [UInt8]) {
        let path = scratch.save(bytes, as: "Data.fs.index")
        guard let (position, index) = try? IndexFile.load(path: path) else { return }
        _ = index.maxOID
        // Positions beyond 48 bits load but cannot be written: a thrown error.
        guard let encoded = try? IndexFile.encoded(position: position, index: index) else { return }
        let again = scratch.save(encoded, as: "resaved.index")
        let reloaded: (position: UInt64, index: ObjectIndex)
        do {
            reloaded = try IndexFile.load(path: again)
        } catch {
            fatalError("an index written by IndexFile.encoded does not load: \(error)")
        }
        guard reloaded.position == position, reloaded.index == index else {
            fatalError("an index changed across a save and a load: position \(position) → \(reloaded.position), \(index.count) → \(reloaded.index.count) oids")
        }
    }
}

import Storage
import ZODB

/// Packs an arbitrary input as a `Data.fs`, as `zodbfs pack` does: a
/// read-write open (which cuts a torn tail into `Data.fs.tr0`), a pack to
/// the last transaction with garbage collection — the reference scanner over
/// every reachable record, backpointers followed, live records copied — and
/// a read-only open of the result with every object loaded. Inputs of even
/// length are packed reading everything, odd ones skipping the garbage, so
/// the corpus drives both ways of reading.
public enum PackFuzzTarget {
    static let scratch = ScratchDirectory(for: "pack")
    /// What an open, a pack or a tail cut leaves beside `Data.fs`.
    static let companions = ["Data.fs.index", "Data.fs.lock", "Data.fs.old", "Data.fs.pack", "Data.fs.tr0", "Data.fs.index.index_tmp"]

    public static func run(_ bytes: [UInt8]) {
        for name in companions { scratch.remove(name) }
        let path = scratch.save(bytes, as: "Data.fs")
        guard let storage = try? FileStorage(path: path, readOnly: false) else { return }
        let reading: PackReading = bytes.count.isMultiple(of: 2) ? .everything : .skippingGarbage
        _ = try? storage.pack(before: storage.lastTransaction, options: PackOptions(sparePageCache: false, reading: reading))
        storage.close()

        guard let packed = try? FileStorage(path: path, readOnly: true) else { return }
        defer { packed.close() }
        for (oid, _) in packed.indexSnapshot() {
            _ = try? packed.load(oid)
        }
    }
}

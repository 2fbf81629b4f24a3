import OFS
import Storage
import ZODB

/// Opens an arbitrary input as a `Data.fs` and reads it the way the mount
/// does: the open (header, scan of every transaction, torn-tail rules, and —
/// when the input carries one — the `.index` file and its sanity check), the
/// transaction iterator, `load`, `loadBefore`, `loadSerial` and the `prev` and
/// backpointer chains of every object, then the object layer over the loaded
/// records: directory listings (including OOBTree bucket chains) and `Pdata`
/// chains.
///
/// Input: the bytes of `Data.fs`, optionally followed by ``indexSeparator``
/// and the bytes of `Data.fs.index`.
public enum FileStorageFuzzTarget {
    /// Splits an input into a store and its index file.
    public static let indexSeparator: [UInt8] = Array("\n--Data.fs.index--\n".utf8)
    /// How many objects are loaded and interpreted per input, so that one
    /// input stays cheap whatever its index holds.
    static let objectLimit = 64
    /// How many `Pdata` links of one file are followed.
    static let chainLimit = 64

    static let scratch = ScratchDirectory(for: "filestorage")

    public static func run(_ bytes: [UInt8]) {
        let (store, index) = split(bytes)
        let path = scratch.save(store, as: "Data.fs")
        if let index { scratch.save(index, as: "Data.fs.index") } else { scratch.remove("Data.fs.index") }

        guard let storage = try? FileStorage(path: path, readOnly: true) else { return }
        defer { storage.close() }
        _ = storage.warnings
        _ = try? storage.transactions()

        let loader = ObjectLoader(storage: storage)
        let reader = DirectoryReader(loader: loader)
        for (oid, _) in storage.indexSnapshot().prefix(objectLimit) {
            _ = try? storage.currentRecord(oid)
            _ = try? storage.load(oid)
            _ = try? storage.loadBefore(oid, before: storage.lastTransaction)
            if let revisions = try? storage.revisions(of: oid), let oldest = revisions.last {
                _ = try? storage.loadSerial(oid, serial: oldest.tid)
                _ = try? storage.loadBefore(oid, before: oldest.tid)
            }
            guard let record = try? loader.load(oid) else { continue }
            switch ZopeObject(record: record) {
            case .directory(let directory):
                _ = try? reader.list(directory)
            case .file(let file):
                if case .chain(let head) = file.body { followChain(from: head, in: storage) }
            case .unmapped:
                break
            }
        }
    }

    /// The store and, after the separator, the index file.
    static func split(_ bytes: [UInt8]) -> (store: [UInt8], index: [UInt8]?) {
        guard let at = firstRange(of: indexSeparator, in: bytes) else { return (bytes, nil) }
        return (Array(bytes[..<at]), Array(bytes[(at + indexSeparator.count)...]))
    }

    static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }

    /// Reads a file's `Pdata` links in order, as the read path does.
    static func followChain(from head: OID, in storage: FileStorage) {
        var next: OID? = head
        var seen: Set<OID> = []
        while let oid = next, seen.count < chainLimit, seen.insert(oid).inserted {
            guard let link = try? PdataLink.read(oid, storage: storage) else { return }
            if case .stored(let offset, let length) = link.payload {
                _ = try? storage.read(at: offset, count: length, generation: link.generation)
            }
            next = link.next
        }
    }
}

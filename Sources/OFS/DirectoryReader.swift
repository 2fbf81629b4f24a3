import Pickle
import Storage
import ZODB

/// Lists a directory's children: ids from `_objects` resolved through the
/// instance attributes, OOBTree items, or the root mapping's keys. Entries
/// whose value is not a persistent reference (a non-persistent sub-object)
/// are not listed: they have no oid, hence no inode.
public struct DirectoryReader: Sendable {
    public let loader: ObjectLoader

    public init(loader: ObjectLoader) {
        self.loader = loader
    }

    public func list(_ directory: ZopeDirectory) throws(RecordError) -> DirectoryListing {
        var sources: [OID: TID] = [directory.record.oid: directory.record.tid]
        var entries: [DirectoryEntry] = []
        switch directory.children {
        case .objectManager(let objects):
            // One pass over the instance dict, so a folder of n children
            // costs O(n), not n lookups of O(n) each.
            var attributes: [String: PickleValue] = [:]
            for entry in directory.record.state.dictEntries ?? [] {
                if let key = entry.key.textValue { attributes[key] = entry.value }
            }
            for item in objects.tupleElements ?? [] {
                guard let id = item["id"]?.textValue,
                      let value = attributes[id],
                      let ref = PersistentReference(value), ref.kind == .strong else { continue }
                entries.append(DirectoryEntry(name: id, oid: ref.oid, metaType: item["meta_type"]?.textValue))
            }
        case .mapping(let data):
            for entry in data.dictEntries ?? [] {
                guard let key = entry.key.textValue,
                      let ref = PersistentReference(entry.value), ref.kind == .strong else { continue }
                entries.append(DirectoryEntry(name: key, oid: ref.oid))
            }
        case .btree(let tree):
            let walked = try OOBTreeWalker(loader: loader).items(tree: tree)
            sources.merge(walked.sources) { a, _ in a }
            entries.reserveCapacity(walked.items.count)
            for (key, value) in walked.items {
                guard let name = key.textValue,
                      let ref = PersistentReference(value), ref.kind == .strong else { continue }
                entries.append(DirectoryEntry(name: name, oid: ref.oid))
            }
        }
        return DirectoryListing(entries: entries, sources: sources)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import OFS
import Pickle
import Storage
import ZODB

/// What a `setattr` asks to change; nil fields stay as they are.
public struct AttributeChanges: Sendable {
    public enum Time: Sendable {
        case now
        case time(Timestamp)
    }

    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var accessTime: Time?
    public var modificationTime: Time?

    public init() {}
}

/// setattr (truncate, chmod, chown, utimens) and the Zope extended
/// attributes. chmod and utimens are kept in attributes Zope ignores
/// (``PosixAttributes``) so `rsync -a` finds them again on its next run;
/// chown can only confirm the owner the mount shows (EPERM otherwise).
///
/// A file with uncommitted changes collects these changes and writes them
/// with its body, so `cp -p` or `tar x` cost one transaction per file plus
/// one for the times set after `close`.
extension ZODBFilesystem {
    public func setattr(_ inode: InodeNumber, handle: UInt64?, changes: AttributeChanges) throws(FSError) -> FileAttributes {
        try counting { () throws(FSError) -> FileAttributes in
            if let control = ControlNode(inode: inode) {
                // `echo cmd > .zodbfs/pack` truncates first: nothing to do.
                guard control.acceptsCommands, changes.mode == nil, changes.uid == nil, changes.gid == nil,
                      changes.size == 0 || changes.size == nil else { throw .notPermitted }
                return virtualAttributes(control)
            }
            if let uid = changes.uid, uid != options.uid { throw .notPermitted }
            if let gid = changes.gid, gid != options.gid { throw .notPermitted }
            var metadata = MetadataChange()
            metadata.mode = changes.mode.map { $0 & 0o7777 }
            switch changes.modificationTime {
            case .now?: metadata.modificationTime = now()
            case .time(let t)?: metadata.modificationTime = t.timeInterval
            case nil: break
            }
            let needsWrite = changes.size != nil || !metadata.isEmpty
            if needsWrite { _ = try writable() }
            if let open = openFiles.file(inode) {
                try open.state.withLock { (s: inout OpenFile.State) throws(FSError) in
                    if let size = changes.size { try s.truncate(to: size, now: now()) }
                    if !metadata.isEmpty {
                        s.pendingMetadata.merge(metadata)
                        s.modified = true
                    }
                }
                // A path truncate (no handle) must reach the store now, as on a disk.
                if handle == nil && changes.size != nil { try commit(open) }
                return attributes(of: open)
            }
            guard let oid = inodes.oid(for: inode) else { throw .notFound }
            let current = try node(oid)
            if let size = changes.size {
                guard case .file = current.content else { throw current.isDirectory ? .isADirectory : .notPermitted }
                try truncateStored(inode, oid: oid, node: current, to: size, metadata: metadata)
                metadata = MetadataChange()
            }
            if !metadata.isEmpty {
                if case .rendered = current.content { throw .notPermitted }
                try commitStateChange("zodbfs: setattr \(oid)", oid: oid) { state in
                    applyPosix(metadata, to: state, bodyChanged: false)
                }
            }
            return try getattr(inode)
        }
    }

    /// `truncate(path)` of a file nobody has open: a one-off write commit.
    private func truncateStored(_ inode: InodeNumber, oid: OID, node: Node, to size: UInt64,
                                metadata: MetadataChange) throws(FSError) {
        let handle = try openForWriting(inode, oid: oid, node: node, flags: O_WRONLY).handle
        defer { release(inode, handle: handle) }
        guard case .writable(let file)? = handles.body(handle) else { throw .badHandle }
        try file.state.withLock { (s: inout OpenFile.State) throws(FSError) in
            try s.truncate(to: size, now: now())
            s.pendingMetadata.merge(metadata)
            if !metadata.isEmpty { s.modified = true }
        }
        try commit(file)
    }

    public func setxattr(_ inode: InodeNumber, name: String, value: [UInt8]) throws(FSError) {
        try counting { () throws(FSError) in
            var metadata = MetadataChange()
            switch name {
            case Self.contentTypeAttribute:
                guard let text = String(validating: value, as: UTF8.self), Self.isValidContentType(text) else {
                    throw .invalidArgument("\(name) must be a MIME type such as text/plain")
                }
                metadata.contentType = text
            case Self.titleAttribute:
                guard let text = String(validating: value, as: UTF8.self) else {
                    throw .invalidArgument("\(name) must be UTF-8 text")
                }
                metadata.title = text
            case Self.metaTypeAttribute, Self.oidAttribute, Self.tidAttribute:
                throw .notPermitted
            default:
                throw .unsupportedAttribute
            }
            try changeZopeAttributes(inode, metadata)
        }
    }

    public func removexattr(_ inode: InodeNumber, name: String) throws(FSError) {
        try counting { () throws(FSError) in
            switch name {
            case Self.titleAttribute:
                var metadata = MetadataChange()
                metadata.title = ""
                try changeZopeAttributes(inode, metadata)
            case Self.contentTypeAttribute, Self.metaTypeAttribute, Self.oidAttribute, Self.tidAttribute:
                throw .notPermitted
            default:
                throw .noSuchAttribute
            }
        }
    }

    private func changeZopeAttributes(_ inode: InodeNumber, _ metadata: MetadataChange) throws(FSError) {
        _ = try writable()
        if let open = openFiles.file(inode) {
            let deferred = open.state.withLock { s -> Bool in
                guard s.modified else { return false }
                s.pendingMetadata.merge(metadata)
                return true
            }
            if deferred { return }
        }
        guard let oid = inodes.oid(for: inode) else { throw .notFound }
        let current = try node(oid)
        if metadata.contentType != nil, !(current.content.isFile) { throw .notPermitted }
        try commitStateChange("zodbfs: setxattr \(oid)", oid: oid) { state in
            var state = state
            if let type = metadata.contentType { state = state.settingEntry("content_type", to: .string(type)) ?? state }
            if let title = metadata.title { state = state.settingEntry("title", to: .string(title)) ?? state }
            return state
        }
    }

    /// MIME types as Zope stores them: `type/subtype` plus parameters, printable ASCII.
    static func isValidContentType(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 255, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return false }
        return bytes.contains(UInt8(ascii: "/"))
    }

    /// One transaction rewriting one object's state.
    func commitStateChange(_ description: String, oid: OID,
                           edit: (PickleValue) throws(FSError) -> PickleValue) throws(FSError) {
        let writer = try writable()
        var written: [PendingRecord] = []
        let started = ContinuousClock.now
        let result = try writer.committer.commit(description) { () throws(FSError) -> [PendingRecord] in
            let current = try loadRecord(oid)
            written = [PendingRecord(oid: oid, expectedSerial: current.tid,
                                     segments: [.bytes(try encode(current, state: try edit(current.state)))])]
            return written
        }
        committed(written, result: result, started: started)
    }
}

extension Node.Content {
    var isFile: Bool {
        if case .file = self { return true }
        return false
    }
}

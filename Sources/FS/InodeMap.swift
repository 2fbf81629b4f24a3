import Storage

/// The fixed correspondence between oids and inode numbers (DESIGN.md
/// "Objects → paths"): the mount root's object is FUSE inode 1, every other
/// object is `oid + 2`, and the top 256 numbers are reserved for the
/// virtual `.zodbfs` nodes. Being a pure function, it needs no table and no
/// lock, and survives remounts.
public struct InodeMap: Sendable {
    public let rootOID: OID

    /// First inode of the reserved range for virtual nodes.
    static let virtualBase: UInt64 = 0xFFFF_FFFF_FFFF_FF00

    public init(rootOID: OID) {
        self.rootOID = rootOID
    }

    public func inode(for oid: OID) -> InodeNumber {
        oid == rootOID ? .root : InodeNumber(oid.rawValue &+ 2)
    }

    /// Nil for virtual nodes and for inode numbers no oid maps to.
    public func oid(for inode: InodeNumber) -> OID? {
        if inode == .root { return rootOID }
        guard inode.rawValue >= 2, inode.rawValue < Self.virtualBase else { return nil }
        let oid = OID(inode.rawValue - 2)
        return oid == rootOID ? nil : oid
    }

    public static func isVirtual(_ inode: InodeNumber) -> Bool { inode.rawValue >= virtualBase }
}

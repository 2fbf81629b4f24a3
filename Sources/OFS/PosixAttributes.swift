import Pickle

/// What `chmod` and `utimens` set through the mount, kept on the object as
/// instance attributes Zope never reads (a leading underscore also keeps
/// them out of reach of the publisher).
///
/// Zope stores no mode and no mtime: its modification time is the record's
/// tid. `rsync -a` and `tar x` set both and compare them on the next run, so
/// without a place to keep them every run would copy everything again.
/// A change of a file's body or a folder's children through the mount drops
/// the stored mtime, so the tid of that commit is the mtime again, as it
/// would be on a disk. An edit made in Zope keeps the attributes as they
/// are, so after one, `stat` shows the last time set through the mount.
public enum PosixAttributes {
    /// Permission bits as an int, e.g. `0o644`.
    public static let modeKey = "_zodbfs_mode"
    /// Seconds since the epoch as a float.
    public static let mtimeKey = "_zodbfs_mtime"

    public static func mode(in state: PickleValue) -> UInt32? {
        guard let value = state[modeKey]?.intValue, (0...0o7777).contains(value) else { return nil }
        return UInt32(value)
    }

    public static func modificationTime(in state: PickleValue) -> Double? {
        guard let value = state[mtimeKey] else { return nil }
        if let d = value.doubleValue { return d }
        return value.intValue.map(Double.init)
    }
}

extension PickleValue {
    /// This dict with `key` set to `value`: replaced in place when present
    /// (keeping the key order ZODB wrote), appended when new, removed when
    /// `value` is nil. Nil when this is not a dict.
    public func settingEntry(_ key: String, to value: PickleValue?) -> PickleValue? {
        guard var entries = dictEntries else { return nil }
        if let i = entries.firstIndex(where: { $0.key.stringValue == key }) {
            if let value { entries[i].value = value } else { entries.remove(at: i) }
        } else if let value {
            entries.append(PickleDictEntry(key: .string(key), value: value))
        }
        return .dict(entries)
    }
}

import Pickle
import ZODB

/// The record of a new `OFS.Folder.Folder` as `manage_addFolder(id, title)`
/// leaves it (`OFS/Folder.py`): `Folder(id)` sets `id`, then `title` is
/// set (also when empty). `_objects` is not stored until the folder gets a
/// child (the class default `()` serves). With no logged-in user
/// `_setObject` adds neither `_owner` nor `__ac_local_roles__`.
public enum ZopeFolderState {
    public static let folderClass = ClassName(module: "OFS.Folder", name: "Folder")
    /// `Folder.meta_type`, for the parent's `_objects` and `_mt_index`.
    public static let metaType = "Folder"

    public static func new(id: String, title: String = "") -> PickleValue {
        .dict([
            PickleDictEntry(key: .string("id"), value: .string(id)),
            PickleDictEntry(key: .string("title"), value: .string(title)),
        ])
    }
}

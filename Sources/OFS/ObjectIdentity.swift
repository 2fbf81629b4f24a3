import Pickle

/// Where an object keeps its own id, which a rename must change with the
/// name in its folder (`OFS/SimpleItem.py`, `Item._setId`): `id` for
/// folders and most items, `__name__` for `File` and `Image`
/// (`Item_w__name__`). Both are set when both are present.
public enum ObjectIdentity {
    public static func renamed(_ state: PickleValue, to name: String) -> PickleValue {
        var state = state
        for key in ["id", "__name__"] where state[key]?.stringValue != nil {
            state = state.settingEntry(key, to: .string(name)) ?? state
        }
        return state
    }
}

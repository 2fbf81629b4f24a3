/// A value on the decoder's stack or in its memo, before the pickle is complete.
///
/// Pickles build containers by identity: `EMPTY_DICT BINPUT 1 MARK … SETITEMS` stores the dict in
/// the memo *before* filling it, and a later `BINGET 1` must see the filled dict. Containers that
/// can still change (lists, dicts, sets, instances) therefore live in a `NodeArena` and are referred
/// to by index; everything else is already a finished `PickleValue`. At `STOP` the arena turns the
/// result into a plain value tree.
enum PendingValue {
    /// A finished value, how deeply it nests (0 for scalars, 1 for a flat container), and how many
    /// values its tree holds, a shared subtree counted once per place it appears (1 for scalars).
    case value(PickleValue, depth: Int, count: Int)
    /// An index into the decoder's `NodeArena`.
    case node(Int)

    static func scalar(_ value: PickleValue) -> PendingValue { .value(value, depth: 0, count: 1) }
}

/// A container that opcodes may still add to, or that holds one that may.
struct PendingNode {
    enum Kind {
        case list, dict, set, tuple, frozenSet, persistentID, object
    }

    /// What `NEWOBJ`, `REDUCE`, `INST` or `OBJ` was given, plus `BUILD`'s state.
    struct ObjectHead {
        var callable: PendingValue
        var arguments: PendingValue
        var keywordArguments: PendingValue?
        var state: PendingValue?
        var isNewObj: Bool
    }

    let kind: Kind
    /// Elements of a list, set, tuple or frozenset; an instance's `APPEND`/`ADDITEMS` items; the
    /// single argument of a persistent id.
    var elements: [PendingValue] = []
    /// Keys and values, alternating, of a dict or an instance's `SETITEM`s.
    var pairs: [PendingValue] = []
    /// For an instance, its index in `NodeArena.objectHeads`; kept out of line so that the far more
    /// common lists and dicts stay small.
    var objectHead: Int?

    // The value this node froze to, valid while `frozenPass` is the decoder's current pass. A node
    // reachable along several paths (a memo'd dict referenced twice) is converted once, and its
    // arrays are shared rather than copied.
    var frozenPass = 0
    var frozen: PickleValue = .none
    var frozenDepth = 0
    var frozenCount = 0
    var isFreezing = false

    init(_ kind: Kind, elements: [PendingValue] = [], pairs: [PendingValue] = []) {
        self.kind = kind
        self.elements = elements
        self.pairs = pairs
    }
}

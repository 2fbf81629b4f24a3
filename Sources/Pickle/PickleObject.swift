/// An instance as the pickle describes it: how to create it and what to give it afterwards.
///
/// Python's unpickler would call `callable(*arguments)` (`REDUCE`, `INST`, `OBJ`) or
/// `callable.__new__(callable, *arguments, **keywordArguments)` (`NEWOBJ`, `NEWOBJ_EX`), then
/// `__setstate__(state)` for `BUILD`, `extend`/`append` for `APPENDS`/`APPEND` and `__setitem__`
/// for `SETITEMS`/`SETITEM` (list and dict subclasses, `collections.OrderedDict`). Here nothing
/// is called; the pieces are kept so the object layer can interpret known classes.
public struct PickleObject: Sendable, Equatable {
    /// Usually `.global(module:name:)`; may be any value (e.g. a memo'd class from `BINGET`).
    public var callable: PickleValue
    /// Always a `.tuple`.
    public var arguments: PickleValue
    /// The dict of `NEWOBJ_EX`; nil for every other opcode.
    public var keywordArguments: PickleValue?
    /// The operand of `BUILD` (`__setstate__`); nil if there was none. For a `Persistent` subclass
    /// without slots this is the instance dict; `(dict, slots)` when both exist.
    public var state: PickleValue?
    /// True for `NEWOBJ`/`NEWOBJ_EX` (`cls.__new__`), false for `REDUCE`/`INST`/`OBJ` (a call).
    public var isNewObj: Bool
    /// Items added with `APPEND`/`APPENDS`/`ADDITEMS` (a pickled list or set subclass).
    public var listItems: [PickleValue]
    /// Items added with `SETITEM`/`SETITEMS` (a pickled dict subclass), in pickle order.
    public var dictItems: [PickleDictEntry]

    public init(
        callable: PickleValue,
        arguments: PickleValue = .tuple([]),
        keywordArguments: PickleValue? = nil,
        state: PickleValue? = nil,
        isNewObj: Bool = false,
        listItems: [PickleValue] = [],
        dictItems: [PickleDictEntry] = []
    ) {
        self.callable = callable
        self.arguments = arguments
        self.keywordArguments = keywordArguments
        self.state = state
        self.isNewObj = isNewObj
        self.listItems = listItems
        self.dictItems = dictItems
    }
}

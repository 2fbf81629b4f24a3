import Pickle
import ZODB

/// The ids Zope accepts for a child of a container, checked before a
/// container edit so that what zodbfs stores is something Zope could have
/// stored and can reach.
///
/// `OFS/ObjectManager.py: checkValidId`, in its order, with its messages:
/// empty; `bad_id` (`[\x00-\x1F\x7F<>&]`); `.`/`..`; a leading `_`; `aq_`;
/// a trailing `__`; `@@`/`++`; an id the container already has as an
/// attribute (`getattr(self, id)`); `REQUEST`; `/`.
///
/// The attribute rule is where Zope looks at live objects; here it is made
/// practical: an id is taken when it is a child, an entry of the
/// container's state (`title`, `id`, a property…), or an attribute of the
/// container's class (`manage_main`, `objectIds`, `keys`…, from
/// `ContainerClassAttributes`, generated from `dir(cls)` of a running Zope;
/// classes not in the table get `OFS.Folder.Folder`'s names). Acquired
/// names are ignored: Zope refuses those only when flagged `__replaceable__
/// = UNIQUE`, which no stock object is.
///
/// BTreeFolder2 overrides `_checkId` with a mere duplicate check, so Zope
/// itself would store any id there. zodbfs applies the same rules to it as
/// to a Folder, because an id that fails them cannot be traversed to in
/// Zope (the publisher refuses `_…` names, and `getattr` finds a class
/// attribute such as `keys` before `__getattr__` looks in the tree). Its
/// duplicate message is BTreeFolder2's own.
public enum ObjectIdValidation {
    /// The rules that look only at the id, in `checkValidId`'s order.
    public static func checkName(_ id: String) throws(InvalidObjectID) {
        try checkLeadingRules(id)
        try checkTrailingRules(id)
    }

    /// `checkValidId(container, id)` for an ObjectManager (Folder,
    /// Application, OrderedFolder…) whose state is `state`.
    public static func check(_ id: String, objectManagerState state: PickleValue,
                             objectClass: ClassName) throws(InvalidObjectID) {
        try checkLeadingRules(id)
        let isChild = (state["_objects"]?.tupleElements ?? []).contains { sameText($0["id"], id) }
        if isChild {
            throw alreadyInUse(id)
        }
        if hasStateEntry(id, state) || classAttributes(of: objectClass).contains(id) {
            throw InvalidObjectID(id: id, reason: .shadowsAttribute,
                                  message: "The id \"\(id)\" is invalid - it is already in use.")
        }
        try checkTrailingRules(id)
    }

    /// The same rules for a BTreeFolder2, whose children are in its `_tree`
    /// (`isChild` is the caller's lookup there), not in its state.
    public static func check(_ id: String, btreeFolderState state: PickleValue, objectClass: ClassName,
                             isChild: Bool) throws(InvalidObjectID) {
        try checkLeadingRules(id)
        if isChild {
            // Products/BTreeFolder2/BTreeFolder2.py: BTreeFolder2Base._checkId
            throw InvalidObjectID(id: id, reason: .alreadyInUse,
                                  message: "The id \"\(id)\" is invalid--it is already in use.")
        }
        if hasStateEntry(id, state) || classAttributes(of: objectClass).contains(id) {
            throw InvalidObjectID(id: id, reason: .shadowsAttribute,
                                  message: "The id \"\(id)\" is invalid - it is already in use.")
        }
        try checkTrailingRules(id)
    }

    /// Names of the class's attributes that an id could otherwise take.
    public static func classAttributes(of objectClass: ClassName) -> Set<String> {
        guard let extra = ContainerClassAttributes.extra[objectClass] else { return ContainerClassAttributes.folder }
        return ContainerClassAttributes.folder.union(extra)
    }

    static func alreadyInUse(_ id: String) -> InvalidObjectID {
        InvalidObjectID(id: id, reason: .alreadyInUse, message: "The id \"\(id)\" is invalid - it is already in use.")
    }

    static func hasStateEntry(_ id: String, _ state: PickleValue) -> Bool {
        (state.dictEntries ?? []).contains { sameText($0.key, id) }
    }

    /// Python's `==` on str: the same code points (Swift's `==` would also
    /// match canonically equivalent spellings, which Python keeps apart).
    static func sameText(_ value: PickleValue?, _ id: String) -> Bool {
        guard let text = value?.textValue else { return false }
        return text.utf8.elementsEqual(id.utf8)
    }

    /// The checks `checkValidId` makes before it looks for an existing attribute.
    static func checkLeadingRules(_ id: String) throws(InvalidObjectID) {
        if id.isEmpty {
            throw InvalidObjectID(id: id, reason: .empty, message: "Empty or invalid id specified")
        }
        if id.unicodeScalars.contains(where: isBadCharacter) {
            throw InvalidObjectID(id: id, reason: .illegalCharacters,
                                  message: "The id \"\(htmlEscaped(id))\" contains characters illegal in URLs.")
        }
        if id.utf8.elementsEqual(".".utf8) || id.utf8.elementsEqual("..".utf8) {
            throw InvalidObjectID(id: id, reason: .notTraversable,
                                  message: "The id \"\(id)\" is invalid because it is not traversable.")
        }
        if hasPrefix(id, "_") {
            throw InvalidObjectID(id: id, reason: .leadingUnderscore,
                                  message: "The id \"\(id)\" is invalid because it begins with an underscore.")
        }
        if hasPrefix(id, "aq_") {
            throw InvalidObjectID(id: id, reason: .acquisitionPrefix,
                                  message: "The id \"\(id)\" is invalid because it begins with \"aq_\".")
        }
        if id.utf8.count >= 2, id.utf8.suffix(2).elementsEqual("__".utf8) {
            throw InvalidObjectID(id: id, reason: .trailingDoubleUnderscore,
                                  message: "The id \"\(id)\" is invalid because it ends with two underscores.")
        }
        if hasPrefix(id, "@@") || hasPrefix(id, "++") {
            throw InvalidObjectID(id: id, reason: .reservedForViews,
                                  message: "The id \"\(id)\" is invalid because it starts with characters reserved for Zope views lookup.")
        }
    }

    /// The checks `checkValidId` makes after the attribute lookup.
    static func checkTrailingRules(_ id: String) throws(InvalidObjectID) {
        if id.utf8.elementsEqual("REQUEST".utf8) {
            throw InvalidObjectID(id: id, reason: .reservedName, message: "REQUEST is a reserved name.")
        }
        if id.utf8.contains(UInt8(ascii: "/")) {
            throw InvalidObjectID(id: id, reason: .illegalCharacters,
                                  message: "The id \"\(id)\" contains characters illegal in URLs.")
        }
    }

    /// Python's `str.startswith`: code points, not Swift's grapheme clusters
    /// (an `_` followed by a combining mark is still a leading underscore).
    static func hasPrefix(_ id: String, _ prefix: String) -> Bool {
        id.utf8.starts(with: prefix.utf8)
    }

    /// `bad_id = re.compile(r'[\x00-\x1F\x7F<>&]').search`
    static func isBadCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value <= 0x1F || scalar.value == 0x7F || scalar == "<" || scalar == ">" || scalar == "&"
    }

    /// `html.escape(s, quote=True)`.
    static func htmlEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#x27;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// The decoder's mutable containers, addressed by index.
///
/// Indices instead of class references keep the graph a plain value: no reference counting per
/// container, no leak if a damaged pickle appends a list to itself, and no recursive deallocation of
/// a long chain of nested containers. Nodes live as long as the decoder, because the memo (shared by
/// both pickles of a ZODB record) may hand any of them out again.
struct NodeArena {
    /// Opcodes that fill a container (`APPENDS`, `SETITEMS`, `BUILD`, …) modify these in place.
    var nodes: [PendingNode] = []
    /// What created each instance node, and its `BUILD` state.
    var objectHeads: [PendingNode.ObjectHead] = []
    /// The deepest value tree `freeze` may produce.
    let depthLimit: Int
    /// The most values a tree `freeze` produces may hold, shared subtrees counted wherever they
    /// appear (see `PickleDecoder.sharedValueAllowance`).
    let countLimit: Int

    init(depthLimit: Int, countLimit: Int) {
        self.depthLimit = depthLimit
        self.countLimit = countLimit
    }

    mutating func add(_ node: PendingNode) -> PendingValue {
        nodes.append(node)
        return .node(nodes.count - 1)
    }

    mutating func addObject(_ head: PendingNode.ObjectHead) -> PendingValue {
        var node = PendingNode(.object)
        node.objectHead = objectHeads.count
        objectHeads.append(head)
        return add(node)
    }

    /// The finished value tree for `item`.
    ///
    /// - Parameters:
    ///   - pass: identifies the current `decodeNext` call; results are cached per pass, because a
    ///     later pickle may still mutate a memo'd node.
    ///   - offset: where to report a failure (the `STOP` opcode).
    /// - Throws: `.cyclicStructure` if a node contains itself, `.nestingTooDeep` past `depthLimit`,
    ///   `.tooManyValues` past `countLimit`.
    mutating func freeze(_ item: PendingValue, pass: Int, at offset: Int) throws(PickleError) -> PickleValue {
        try freeze(item, level: 0, pass: pass, at: offset).value
    }

    private mutating func freeze(
        _ item: PendingValue, level: Int, pass: Int, at offset: Int
    ) throws(PickleError) -> (value: PickleValue, depth: Int, count: Int) {
        switch item {
        case .value(let value, let depth, let count):
            return (value, depth, count)
        case .node(let index):
            if nodes[index].frozenPass == pass {
                return (nodes[index].frozen, nodes[index].frozenDepth, nodes[index].frozenCount)
            }
            guard !nodes[index].isFreezing else { throw PickleError(.cyclicStructure, at: offset) }
            // Recursion stops here at the latest: a node at this level would exceed the limit.
            guard level < depthLimit else { throw PickleError(.nestingTooDeep(limit: depthLimit), at: offset) }
            nodes[index].isFreezing = true
            defer { nodes[index].isFreezing = false }
            let (value, depth, count) = try freezeContents(of: nodes[index], level: level, pass: pass, at: offset)
            guard depth <= depthLimit else { throw PickleError(.nestingTooDeep(limit: depthLimit), at: offset) }
            nodes[index].frozenPass = pass
            nodes[index].frozen = value
            nodes[index].frozenDepth = depth
            nodes[index].frozenCount = count
            return (value, depth, count)
        }
    }

    private mutating func freezeContents(
        of node: PendingNode, level: Int, pass: Int, at offset: Int
    ) throws(PickleError) -> (value: PickleValue, depth: Int, count: Int) {
        var childDepth = 0
        var count = 1
        func child(_ item: PendingValue) throws(PickleError) -> PickleValue {
            let (value, depth, childCount) = try freeze(item, level: level + 1, pass: pass, at: offset)
            childDepth = max(childDepth, depth)
            count += childCount
            guard count <= countLimit else { throw PickleError(.tooManyValues(limit: countLimit), at: offset) }
            return value
        }
        func children(_ items: [PendingValue]) throws(PickleError) -> [PickleValue] {
            var values: [PickleValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try child(item)) }
            return values
        }
        func entries(_ pairs: [PendingValue]) throws(PickleError) -> [PickleDictEntry] {
            var entries: [PickleDictEntry] = []
            entries.reserveCapacity(pairs.count / 2)
            var index = 0
            while index + 1 < pairs.count {
                entries.append(PickleDictEntry(key: try child(pairs[index]), value: try child(pairs[index + 1])))
                index += 2
            }
            return entries
        }

        let value: PickleValue
        switch node.kind {
        case .list: value = .list(try children(node.elements))
        case .set: value = .set(try children(node.elements))
        case .tuple: value = .tuple(try children(node.elements))
        case .frozenSet: value = .frozenSet(try children(node.elements))
        case .dict: value = .dict(try entries(node.pairs))
        case .persistentID:
            guard let argument = node.elements.first else { preconditionFailure("persistent id without argument") }
            value = .persistentID(try child(argument))
        case .object:
            guard let headIndex = node.objectHead else { preconditionFailure("object node without head") }
            let head = objectHeads[headIndex]
            var object = PickleObject(
                callable: try child(head.callable),
                arguments: try child(head.arguments),
                isNewObj: head.isNewObj
            )
            if let keywordArguments = head.keywordArguments { object.keywordArguments = try child(keywordArguments) }
            if let state = head.state { object.state = try child(state) }
            object.listItems = try children(node.elements)
            object.dictItems = try entries(node.pairs)
            value = .object(object)
        }
        return (value, childDepth + 1, count)
    }
}

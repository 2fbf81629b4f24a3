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
    /// Iterative, with an explicit stack of frames: a value may legitimately nest
    /// `depthLimit` deep, and a recursive walk would need a stack frame per level on whatever
    /// thread decodes — a FUSE worker, a pack worker, an instrumented test build with frames ten
    /// times larger. The walk visits children in pickle order, so the first problem found is
    /// the one reported.
    ///
    /// - Parameters:
    ///   - pass: identifies the current `decodeNext` call; results are cached per pass, because a
    ///     later pickle may still mutate a memo'd node.
    ///   - offset: where to report a failure (the `STOP` opcode).
    /// - Throws: `.cyclicStructure` if a node contains itself, `.nestingTooDeep` past `depthLimit`,
    ///   `.tooManyValues` past `countLimit`.
    mutating func freeze(_ item: PendingValue, pass: Int, at offset: Int) throws(PickleError) -> PickleValue {
        let root: Int
        switch item {
        case .value(let value, _, _): return value
        case .node(let index): root = index
        }
        if nodes[root].frozenPass == pass { return nodes[root].frozen }
        var frames: [FreezeFrame] = []
        do throws(PickleError) {
            try enter(root, level: 0, pass: pass, at: offset, onto: &frames)
            while true {
                let top = frames.count - 1
                if let child = frames[top].nextChild() {
                    switch child {
                    case .value(let value, let depth, let count):
                        try frames[top].accept(value, depth: depth, count: count, limit: countLimit, at: offset)
                    case .node(let index) where nodes[index].frozenPass == pass:
                        let node = nodes[index]
                        try frames[top].accept(node.frozen, depth: node.frozenDepth, count: node.frozenCount,
                                               limit: countLimit, at: offset)
                    case .node(let index):
                        try enter(index, level: frames[top].level + 1, pass: pass, at: offset, onto: &frames)
                    }
                    continue
                }
                let frame = frames.removeLast()
                let depth = frame.childDepth + 1
                guard depth <= depthLimit else { throw PickleError(.nestingTooDeep(limit: depthLimit), at: offset) }
                let value = frame.value(of: nodes[frame.node], heads: objectHeads)
                nodes[frame.node].isFreezing = false
                nodes[frame.node].frozenPass = pass
                nodes[frame.node].frozen = value
                nodes[frame.node].frozenDepth = depth
                nodes[frame.node].frozenCount = frame.count
                guard !frames.isEmpty else { return value }
                try frames[frames.count - 1].accept(value, depth: depth, count: frame.count, limit: countLimit, at: offset)
            }
        } catch {
            for frame in frames { nodes[frame.node].isFreezing = false }
            throw error
        }
    }

    /// Starts freezing node `index` at nesting `level`, or throws if that would close a cycle or
    /// nest too deep.
    private mutating func enter(
        _ index: Int, level: Int, pass: Int, at offset: Int, onto frames: inout [FreezeFrame]
    ) throws(PickleError) {
        guard !nodes[index].isFreezing else { throw PickleError(.cyclicStructure, at: offset) }
        // A node at this level would exceed the limit even with no children.
        guard level < depthLimit else { throw PickleError(.nestingTooDeep(limit: depthLimit), at: offset) }
        nodes[index].isFreezing = true
        let node = nodes[index]
        var head: [PendingValue] = []
        if node.kind == .object {
            guard let headIndex = node.objectHead else { preconditionFailure("object node without head") }
            let object = objectHeads[headIndex]
            head = [object.callable, object.arguments]
            if let keywordArguments = object.keywordArguments { head.append(keywordArguments) }
            if let state = object.state { head.append(state) }
        }
        frames.append(FreezeFrame(node: index, level: level, head: head, elements: node.elements, pairs: node.pairs))
    }
}

/// One node being frozen: which of its children come next and the values they froze to.
///
/// Children are visited as `PickleValue` lays them out: an instance's callable, arguments,
/// keyword arguments and state, then the elements, then the pairs (a trailing unpaired key is
/// ignored, as `SETITEMS` would never leave one).
private struct FreezeFrame {
    let node: Int
    let level: Int
    let head: [PendingValue]
    let elements: [PendingValue]
    let pairs: [PendingValue]
    private var next = 0
    private(set) var values: [PickleValue] = []
    private(set) var childDepth = 0
    private(set) var count = 1

    init(node: Int, level: Int, head: [PendingValue], elements: [PendingValue], pairs: [PendingValue]) {
        self.node = node
        self.level = level
        self.head = head
        self.elements = elements
        self.pairs = pairs.count % 2 == 0 ? pairs : Array(pairs.dropLast())
        values.reserveCapacity(head.count + elements.count + self.pairs.count)
    }

    mutating func nextChild() -> PendingValue? {
        var index = next
        defer { next += 1 }
        if index < head.count { return head[index] }
        index -= head.count
        if index < elements.count { return elements[index] }
        index -= elements.count
        return index < pairs.count ? pairs[index] : nil
    }

    mutating func accept(_ value: PickleValue, depth: Int, count childCount: Int, limit: Int, at offset: Int) throws(PickleError) {
        values.append(value)
        childDepth = max(childDepth, depth)
        count += childCount
        guard count <= limit else { throw PickleError(.tooManyValues(limit: limit), at: offset) }
    }

    /// The value of the node, from its children's values.
    func value(of node: PendingNode, heads: [PendingNode.ObjectHead]) -> PickleValue {
        func entries(_ values: ArraySlice<PickleValue>) -> [PickleDictEntry] {
            stride(from: values.startIndex, to: values.endIndex, by: 2).map {
                PickleDictEntry(key: values[$0], value: values[$0 + 1])
            }
        }
        switch node.kind {
        case .list: return .list(values)
        case .set: return .set(values)
        case .tuple: return .tuple(values)
        case .frozenSet: return .frozenSet(values)
        case .dict: return .dict(entries(values[...]))
        case .persistentID:
            guard let argument = values.first else { preconditionFailure("persistent id without argument") }
            return .persistentID(argument)
        case .object:
            let head = heads[node.objectHead!]
            var object = PickleObject(callable: values[0], arguments: values[1], isNewObj: head.isNewObj)
            var index = 2
            if head.keywordArguments != nil { object.keywordArguments = values[index]; index += 1 }
            if head.state != nil { object.state = values[index]; index += 1 }
            object.listItems = Array(values[index ..< index + elements.count])
            object.dictItems = entries(values[(index + elements.count)...])
            return .object(object)
        }
    }
}

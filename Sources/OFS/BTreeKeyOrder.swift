import Pickle

/// Python's ordering of BTree keys (`PyObject_RichCompare`, which the
/// object-keyed BTrees use). BTreeFolder2 ids and meta types are `str`,
/// ordered by code point — the same order as their UTF-8 bytes, and unlike
/// Swift's `<` on `String`, which compares canonical equivalents as equal.
/// Python 3 refuses to order `str` against `bytes` or numbers; so does this.
enum BTreeKeyOrder {
    /// Negative, zero or positive as `a` sorts before, with or after `b`;
    /// nil when Python would raise `TypeError`.
    static func compare(_ a: PickleValue, _ b: PickleValue) -> Int? {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return compareBytes(x.utf8, y.utf8)
        case (.bytes(let x), .bytes(let y)):
            return compareBytes(x, y)
        case (.int(let x), .int(let y)):
            return x < y ? -1 : (x == y ? 0 : 1)
        case (.bool, _), (_, .bool), (.int, .float), (.float, .int), (.float, .float):
            guard let x = numeric(a), let y = numeric(b) else { return nil }
            return x < y ? -1 : (x == y ? 0 : 1)
        default:
            return nil
        }
    }

    static func numeric(_ value: PickleValue) -> Double? {
        switch value {
        case .bool(let flag): return flag ? 1 : 0
        case .int(let number): return Double(number)
        case .float(let number): return number
        default: return nil
        }
    }

    static func compareBytes<C: Collection>(_ x: C, _ y: C) -> Int where C.Element == UInt8 {
        var i = x.makeIterator()
        var j = y.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let p?, let q?):
                if p != q { return p < q ? -1 : 1 }
            }
        }
    }
}

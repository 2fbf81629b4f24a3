import Pickle
import Storage
import ZODB

/// Renders an object's state as indented, Python-like text. Used as the
/// body of unmapped objects; references print as `<ref 0x… module.Class>`
/// so a reader can follow them with `user.zodb.oid`.
public enum StateRendering {
    /// Longest bytes value rendered in full; longer ones are cut with a note
    /// (the file stays readable, and its size bounded).
    static let bytesLimit = 4096

    public static func render(_ record: ObjectRecord) -> String {
        var out = "class: \(record.objectClass)\n"
        out += "oid: 0x\(record.oid)\n"
        out += "tid: 0x\(record.tid)\n"
        out += "state:"
        if case .dict(let entries) = record.state {
            out += "\n"
            for entry in entries {
                out += "  \(inline(entry.key, depth: 0)): \(inline(entry.value, depth: 1))\n"
            }
        } else {
            out += " \(inline(record.state, depth: 1))\n"
        }
        return out
    }

    static func inline(_ value: PickleValue, depth: Int) -> String {
        if depth > 32 { return "…" }
        switch value {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return "<long \(b.count) bytes>"
        case .float(let d): return String(d)
        case .string(let s): return quoted(s)
        case .bytes(let b): return bytesLiteral(b)
        case .byteRange(_, let length): return "<\(length) bytes>"
        case .tuple(let items):
            let inner = items.map { inline($0, depth: depth + 1) }.joined(separator: ", ")
            return items.count == 1 ? "(\(inner),)" : "(\(inner))"
        case .list(let items):
            return "[" + items.map { inline($0, depth: depth + 1) }.joined(separator: ", ") + "]"
        case .set(let items), .frozenSet(let items):
            return "{" + items.map { inline($0, depth: depth + 1) }.joined(separator: ", ") + "}"
        case .dict(let entries):
            return "{" + entries.map { "\(inline($0.key, depth: depth + 1)): \(inline($0.value, depth: depth + 1))" }
                .joined(separator: ", ") + "}"
        case .global(let module, let name): return "\(module).\(name)"
        case .persistentID:
            if let ref = PersistentReference(value) {
                let cls = ref.objectClass.map { " \($0)" } ?? ""
                return "<ref 0x\(ref.oid)\(cls)>"
            }
            return "<ref>"
        case .object(let obj):
            var s = inline(obj.callable, depth: depth + 1)
            s += inline(obj.arguments, depth: depth + 1)
            if let state = obj.state { s += " " + inline(state, depth: depth + 1) }
            return s
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "'"
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if ch.value < 0x20 { out += "\\x" + hex2(UInt8(ch.value)) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "'"
    }

    static func bytesLiteral(_ b: [UInt8]) -> String {
        var out = "b'"
        for byte in b.prefix(bytesLimit) {
            switch byte {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "'"): out += "\\'"
            case 0x0a: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0d: out += "\\r"
            case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + hex2(byte)
            }
        }
        out += "'"
        if b.count > bytesLimit { out += " …(\(b.count) bytes)" }
        return out
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xf)])
    }
}

/// The two escaping schemes of protocol 0's quoted operands.
///
/// `STRING` (`S'…'\n`) holds a Python 2 `repr()`: decoded with `codecs.escape_decode`. `UNICODE`
/// (`V…\n`) holds `raw-unicode-escape` text: Latin-1 bytes with `\uXXXX`/`\UXXXXXXXX` escapes.
/// These mirror CPython's `_PyBytes_DecodeEscape` and `_PyUnicode_DecodeRawUnicodeEscape` so that
/// the same bytes decode to the same value as under Python.
enum TextEscapes {
    /// Why an escape failed, for the caller to attach an offset to.
    struct Failure: Error {
        var message: String
    }

    /// The bytes of a `STRING` operand with its quotes already removed.
    static func escapeDecoded(_ text: ArraySlice<UInt8>) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else { output.append(byte); continue }
            guard index < text.endIndex else { throw Failure(message: "trailing \\ in string") }
            let escape = text[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): output.append(escape)
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "v"): output.append(0x0B)
            case UInt8(ascii: "a"): output.append(0x07)
            case UInt8(ascii: "0") ... UInt8(ascii: "7"):
                // Up to three octal digits; CPython keeps the low 8 bits of anything above \377.
                var value = Int(escape - UInt8(ascii: "0"))
                for _ in 0 ..< 2 {
                    guard index < text.endIndex, (UInt8(ascii: "0") ... UInt8(ascii: "7")).contains(text[index])
                    else { break }
                    value = value << 3 + Int(text[index] - UInt8(ascii: "0"))
                    index += 1
                }
                output.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                guard text.endIndex - index >= 2,
                      let high = hexValue(text[index]), let low = hexValue(text[index + 1])
                else { throw Failure(message: "invalid \\x escape") }
                output.append(UInt8(high << 4 | low))
                index += 2
            default:
                // An unknown escape stands for itself, backslash included.
                output.append(UInt8(ascii: "\\"))
                index -= 1
            }
        }
        return output
    }

    /// The text of a `UNICODE` operand.
    static func rawUnicodeEscapeDecoded(_ text: ArraySlice<UInt8>) throws(Failure) -> String {
        var scalars = String.UnicodeScalarView()
        var pendingHighSurrogate: UInt32?
        func emit(_ value: UInt32) {
            // Python 2 narrow builds wrote astral characters as surrogate pairs; join them, and
            // replace any lone surrogate, which a Swift string cannot hold.
            if let high = pendingHighSurrogate {
                pendingHighSurrogate = nil
                if (0xDC00 ... 0xDFFF).contains(value) {
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00)
                    scalars.append(Unicode.Scalar(combined) ?? "\u{FFFD}")
                    return
                }
                scalars.append("\u{FFFD}")
            }
            if (0xD800 ... 0xDBFF).contains(value) {
                pendingHighSurrogate = value
            } else {
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            }
        }

        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                emit(UInt32(byte))
                index += 1
                continue
            }
            // A run of backslashes is literal; only an odd-length run escapes a following u/U.
            let runStart = index
            while index < text.endIndex, text[index] == UInt8(ascii: "\\") { index += 1 }
            let runLength = index - runStart
            let escapes = runLength % 2 == 1 && index < text.endIndex
                && (text[index] == UInt8(ascii: "u") || text[index] == UInt8(ascii: "U"))
            for _ in 0 ..< (escapes ? runLength - 1 : runLength) { emit(UInt32(UInt8(ascii: "\\"))) }
            guard escapes else { continue }
            let width = text[index] == UInt8(ascii: "u") ? 4 : 8
            index += 1
            guard text.endIndex - index >= width else { throw Failure(message: "truncated \\uXXXX escape") }
            var value: UInt32 = 0
            for digit in text[index ..< index + width] {
                guard let nibble = hexValue(digit) else { throw Failure(message: "truncated \\uXXXX escape") }
                value = value << 4 | UInt32(nibble)
            }
            guard value <= 0x10FFFF else { throw Failure(message: "\\Uxxxxxxxx out of range") }
            index += width
            emit(value)
        }
        if pendingHighSurrogate != nil { scalars.append("\u{FFFD}") }
        return String(scalars)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

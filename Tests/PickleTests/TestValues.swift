import Pickle

/// Bytes from hex text; whitespace (line breaks in long literals) is ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map { Character($0) }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { index in
        guard let byte = UInt8(String(digits[index ..< index + 2]), radix: 16) else {
            preconditionFailure("not hex: \(digits[index])\(digits[index + 1])")
        }
        return byte
    }
}

/// The 8 big-endian bytes of an oid, as ZODB pickles them (`SHORT_BINBYTES 08`).
func oidBytes(_ oid: UInt64) -> [UInt8] {
    (0 ..< 8).reversed().map { UInt8(truncatingIfNeeded: oid >> (8 * $0)) }
}

/// A ZODB reference the way `ObjectWriter.persistent_id` writes it: `(oid, class)`.
func ref(_ oid: UInt64, _ module: String, _ name: String) -> PickleValue {
    .persistentID(.tuple([.bytes(oidBytes(oid)), .global(module: module, name: name)]))
}

/// A dict with string keys, in the given order.
func dict(_ entries: KeyValuePairs<String, PickleValue>) -> PickleValue {
    .dict(entries.map { PickleDictEntry(key: .string($0.key), value: $0.value) })
}

/// Every pickle in `bytes`, decoded with one shared memo.
func decodeAll(_ bytes: [UInt8]) throws -> [PickleValue] {
    var decoder = PickleDecoder(bytes: bytes)
    var values: [PickleValue] = []
    while !decoder.isAtEnd { values.append(try decoder.decodeNext()) }
    return values
}

/// The single pickle in `bytes`.
func decodeOne(_ bytes: [UInt8]) throws -> PickleValue {
    var decoder = PickleDecoder(bytes: bytes)
    return try decoder.decodeNext()
}

/// The reason decoding `bytes` (every pickle in it) fails, or nil if it succeeds.
func decodeFailure(_ bytes: [UInt8]) -> PickleError? {
    do {
        _ = try decodeAll(bytes)
        return nil
    } catch let error as PickleError {
        return error
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
}

/// A ZODB object id: 8 bytes, big-endian on disk, compared as an unsigned integer.
///
/// Oid 0 is the root object (a `PersistentMapping` created by the first
/// transaction, "initial database creation"). New oids are the largest oid in
/// the index plus one, so oids are reused after a pack removed the largest.
public struct OID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The oid as an unsigned integer (the big-endian reading of its 8 bytes).
    public var rawValue: UInt64

    /// Creates an oid from its integer value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates an oid from its integer value.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates an oid from its 8 big-endian bytes, as stored in a record header
    /// or a persistent reference; nil unless there are exactly 8 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard let value = UInt64(bigEndianBytes: bytes) else { return nil }
        self.rawValue = value
    }

    /// The root object's oid, `z64`.
    public static let root = OID(rawValue: 0)

    /// The 8 big-endian bytes, as ZODB writes them.
    public var bytes: [UInt8] { rawValue.bigEndianBytes }

    /// 16 lowercase hexadecimal digits, as `fsdump` and `annot.py` print oids.
    public var description: String { rawValue.hex16 }

    /// ZODB's `oid_repr`: `0x` and the hex digits without leading zeros,
    /// padded back to an even count (`0x00` for the root, `0x01`, `0x0100`).
    public var repr: String { rawValue.zodbRepr }

    public static func < (lhs: OID, rhs: OID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A transaction id: a `persistent.TimeStamp`, the UTC time of the commit packed
/// into 8 big-endian bytes, also used as the serial of every revision it wrote.
///
/// The layout (`persistent/_timestamp.c`):
/// ```
/// hi32 = ((((year-1900)*12 + (month-1))*31 + (day-1))*24 + hour)*60 + minute   (31-day months)
/// lo32 = trunc(seconds * 2^32 / 60)                                            (≈ 14 ns steps)
/// ```
/// Comparing two tids as integers compares their times, so `TID` is ordered by
/// ``rawValue``.
public struct TID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The tid as an unsigned integer (the big-endian reading of its 8 bytes).
    public var rawValue: UInt64

    /// Creates a tid from its integer value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates a tid from its integer value.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates a tid from its 8 big-endian bytes; nil unless there are exactly 8.
    public init?(bytes: some Collection<UInt8>) {
        guard let value = UInt64(bigEndianBytes: bytes) else { return nil }
        self.rawValue = value
    }

    /// `z64`: 1900-01-01 00:00:00, "before every transaction".
    public static let zero = TID(rawValue: 0)

    /// ZODB's `maxtid` (`7fffffffffffffff`), "after every transaction".
    public static let max = TID(rawValue: 0x7fff_ffff_ffff_ffff)

    /// The 8 big-endian bytes, as ZODB writes them.
    public var bytes: [UInt8] { rawValue.bigEndianBytes }

    /// 16 lowercase hexadecimal digits (`040d2db06ab484bb`).
    public var description: String { rawValue.hex16 }

    /// ZODB's `tid_repr` (`0x040d2db06ab484bb`, `0x00` for ``zero``), used in
    /// repozo file names and log messages.
    public var repr: String { rawValue.zodbRepr }

    public static func < (lhs: TID, rhs: TID) -> Bool { lhs.rawValue < rhs.rawValue }
}

// MARK: - Time

extension TID {
    /// The date fields of a tid, decoded the way `TimeStamp` does: the 31-day
    /// packing is undone arithmetically, so a damaged tid can show a day that
    /// its month does not have.
    public struct Components: Sendable, Equatable {
        public var year: Int
        public var month: Int
        public var day: Int
        public var hour: Int
        public var minute: Int
        /// Seconds within the minute, `lo32 × 60 / 2^32` (exact in a `Double`).
        public var second: Double
    }

    /// The decoded date fields (`TimeStamp.year()` … `TimeStamp.second()`).
    public var components: Components {
        let minutes = Int(rawValue >> 32)
        return Components(
            year: minutes / minutesPerYear + 1900,
            month: minutes % minutesPerYear / minutesPerMonth + 1,
            day: minutes % minutesPerMonth / minutesPerDay + 1,
            hour: minutes % minutesPerDay / 60,
            minute: minutes % 60,
            second: Double(UInt32(truncatingIfNeeded: rawValue)) * secondsPerUnit)
    }

    /// Packs a date the way `TimeStamp(year, month, day, hour, minute, second)`
    /// does, truncating the seconds to 60/2^32 s steps.
    ///
    /// Returns nil where `TimeStamp` raises `ValueError` (year before 1900,
    /// month, day, hour or minute out of range) and for seconds outside
    /// `0 ..< 60`, which ZODB never produces.
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double) {
        guard year >= 1900, (1...12).contains(month),
            day >= 1, day <= daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute),
            second >= 0, second < 60
        else { return nil }
        guard let high = packedMinutes(year: year, month: month, day: day, hour: hour, minute: minute)
        else { return nil }
        // C: `sec /= TS_SECOND_BYTES_BIAS; v = (unsigned int)sec;` — truncation.
        let low = UInt32(second / secondsPerUnit)
        self.init(rawValue: UInt64(high) << 32 | UInt64(low))
    }

    /// The tid ZODB gives a commit at `t` seconds after the Unix epoch:
    /// `TimeStamp(*time.gmtime(t)[:5] + (t % 60,))`, with the fraction of a
    /// second kept and truncated (not rounded) to 60/2^32 s.
    ///
    /// Times before 1900 (and −∞) give ``zero``; times past what 32 bits of
    /// minutes can hold (year 9917), +∞ and NaN give ``max``.
    public init(timeIntervalSince1970 t: Double) {
        // Year 10000 is past what 32 bits of minutes hold; Int64(t) must not trap.
        if t.isNaN || t >= 253_402_300_800 {
            self = .max
            return
        }
        if t < -2_208_988_800 {
            self = .zero
            return
        }
        // time.gmtime floors a float; Python's float % has the sign of the divisor.
        let whole = Int64(t.rounded(.down))
        let (days, secondOfDay) = floorDivision(whole, 86_400)
        let (year, month, day) = civilDate(fromDaysSince1970: days)
        var second = t.truncatingRemainder(dividingBy: 60)
        if second < 0 { second += 60 }
        guard
            let high = packedMinutes(
                year: year, month: month, day: day,
                hour: Int(secondOfDay / 3600), minute: Int(secondOfDay % 3600 / 60))
        else {
            self = .max
            return
        }
        let low = UInt32(Swift.min(second / secondsPerUnit, Double(UInt32.max)))
        self.init(rawValue: UInt64(high) << 32 | UInt64(low))
    }

    /// Seconds since the Unix epoch, as `TimeStamp.timeTime()` computes them
    /// (same operations in the same order, so the same `Double`).
    public var timeIntervalSince1970: Double {
        let c = components
        let minuteOfDay = c.hour * 60 + c.minute
        // _timestamp.c: TimeStamp_abst(y, m-1, d-1, mi, 0) + TimeStamp_sec(self) - gmoff
        let absolute = Double(cAbsoluteSeconds(year: c.year, monthIndex: c.month - 1, dayIndex: c.day - 1, minute: minuteOfDay))
        return absolute + c.second - Double(cAbsoluteSeconds(year: 1970, monthIndex: 0, dayIndex: 0, minute: 0))
    }

    /// A tid later than `other`: `self` if it already is, otherwise `other`
    /// plus one 60/2^32 s step, carrying into the minute (and day, month,
    /// year, using the real calendar) when the seconds part overflows —
    /// `TimeStamp.laterThan` of the C implementation. This is how a commit's
    /// tid is chosen: `TID(now).laterThan(lastTransaction)`.
    public func laterThan(_ other: TID) -> TID {
        if self > other { return self }
        if UInt32(truncatingIfNeeded: other.rawValue) != UInt32.max {
            return TID(rawValue: other.rawValue + 1)
        }
        // All four low bytes were 0xff: bump the minute from the decoded fields.
        let c = other.components
        var (year, month, day, minuteOfDay) = (c.year, c.month, c.day, c.hour * 60 + c.minute)
        if minuteOfDay >= 1439 {
            minuteOfDay = 0
            // C compares `day == month_len`; `>=` also rolls over a damaged tid
            // whose day its month does not have, where C would raise.
            if day >= daysInMonth(year: year, month: month) {
                day = 1
                if month == 12 {
                    month = 1
                    year += 1
                } else {
                    month += 1
                }
            } else {
                day += 1
            }
        } else {
            minuteOfDay += 1
        }
        let high = wrappingPackedMinutes(year: year, month: month, day: day, hour: minuteOfDay / 60, minute: minuteOfDay % 60)
        return TID(rawValue: UInt64(high) << 32)
    }

    /// `TimeStamp.__str__`: `2026-11-22 03:28:25.009020` (seconds printed with
    /// `%09.6f`, so the last step of a minute shows as `60.000000`).
    public var timeStampString: String { formatted(separator: " ", suffix: "") }

    /// The same instant as ISO 8601 in UTC: `2026-11-22T03:28:25.009020Z`.
    public var isoString: String { formatted(separator: "T", suffix: "Z") }

    private func formatted(separator: String, suffix: String) -> String {
        let c = components
        // %09.6f of lo32 × 15 / 2^30, rounded half to even on the exact value,
        // as printf does; the product is exact in 64 bits.
        let scaled = UInt64(UInt32(truncatingIfNeeded: rawValue)) * 15_000_000
        var micros = scaled >> 30
        let remainder = scaled & (1 << 30 - 1)
        if remainder > 1 << 29 || (remainder == 1 << 29 && micros & 1 == 1) { micros += 1 }
        return pad(c.year, 4) + "-" + pad(c.month, 2) + "-" + pad(c.day, 2) + separator
            + pad(c.hour, 2) + ":" + pad(c.minute, 2) + ":"
            + pad(Int(micros / 1_000_000), 2) + "." + pad(Int(micros % 1_000_000), 6) + suffix
    }
}

// MARK: - Helpers

private let minutesPerDay = 1440
private let minutesPerMonth = 31 * minutesPerDay
private let minutesPerYear = 12 * minutesPerMonth
/// `TS_SECOND_BYTES_BIAS`: 60 / 2^32, exact in a `Double`.
private let secondsPerUnit = 60.0 / 65536.0 / 65536.0

private func isLeap(_ year: Int) -> Bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

private func daysInMonth(year: Int, month: Int) -> Int {
    let lengths = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return lengths[(month - 1) % 12]
}

/// The high 32 bits of a tid, or nil when they do not fit.
private func packedMinutes(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> UInt32? {
    let value = ((((year - 1900) * 12 + month - 1) * 31 + day - 1) * 24 + hour) * 60 + minute
    return UInt32(exactly: value)
}

/// The high 32 bits as C's `unsigned int` arithmetic computes them (wrapping).
private func wrappingPackedMinutes(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> UInt32 {
    let value = ((((year - 1900) * 12 + month - 1) * 31 + day - 1) * 24 + hour) * 60 + minute
    return UInt32(truncatingIfNeeded: value)
}

/// `TimeStamp_abst` of `_timestamp.c` with its own day count (`TimeStamp_yad`);
/// only differences of two results are meaningful.
private func cAbsoluteSeconds(year: Int, monthIndex: Int, dayIndex: Int, minute: Int) -> Int {
    let dayOffsets = isLeap(year)
        ? [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]
        : [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
    var y = year - 1900
    let d = (y - 1) * 365
    let sign: Int
    if y > 0 {
        sign = 1
        y -= 1
    } else {
        sign = -1
        y = -y
    }
    let yearDays = d + sign * (y / 4 - y / 100 + (y + 300) / 400)
    return (yearDays + dayOffsets[((monthIndex % 12) + 12) % 12] + dayIndex) * 86_400 + minute * 60
}

private func floorDivision(_ a: Int64, _ b: Int64) -> (quotient: Int, remainder: Int) {
    var q = a / b
    var r = a % b
    if r < 0 {
        q -= 1
        r += b
    }
    return (Int(q), Int(r))
}

/// Proleptic Gregorian date of a day number (days since 1970-01-01).
private func civilDate(fromDaysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

private func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension UInt64 {
    init?(bigEndianBytes bytes: some Collection<UInt8>) {
        guard bytes.count == 8 else { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self = value
    }

    var bigEndianBytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: self >> UInt64(56 - 8 * $0)) }
    }

    var hex16: String {
        let digits = String(self, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// `oid_repr`/`tid_repr` of `ZODB.utils`.
    var zodbRepr: String {
        var digits = self == 0 ? "" : String(self, radix: 16)
        if digits.isEmpty {
            digits = "00"
        } else if digits.count % 2 == 1 {
            digits = "0" + digits
        }
        return "0x" + digits
    }
}

import Storage
import Testing

@Suite struct OIDTests {
    @Test func bytesRoundTrip() {
        let oid = OID(0x0102_0304_0506_0708)
        #expect(oid.bytes == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(OID(bytes: oid.bytes) == oid)
        #expect(OID(bytes: [1, 2, 3]) == nil)
        #expect(OID(bytes: [UInt8](repeating: 0, count: 9)) == nil)
        #expect(OID(bytes: [UInt8](repeating: 0, count: 8)) == .root)
    }

    @Test func descriptions() {
        #expect(OID.root.description == "0000000000000000")
        #expect(OID(0x1a).description == "000000000000001a")
        // ZODB.utils.oid_repr
        #expect(OID.root.repr == "0x00")
        #expect(OID(1).repr == "0x01")
        #expect(OID(0x100).repr == "0x0100")
        #expect(OID(0xabc).repr == "0x0abc")
    }

    @Test func ordering() {
        #expect(OID(1) < OID(2))
        #expect(OID(0xff) < OID(0x100))
        #expect([OID(3), OID(1), OID(2)].sorted() == [OID(1), OID(2), OID(3)])
    }
}

@Suite struct TIDTests {
    // Values printed by persistent 6.9's C TimeStamp.

    @Test func decodesTheDocumentedExample() {
        let tid = TID(0x040d_2db0_6ab4_84bb)
        #expect(tid.timeIntervalSince1970 == 1795318105.0090194)
        #expect(tid.timeStampString == "2026-11-22 03:28:25.009020")
        #expect(tid.isoString == "2026-11-22T03:28:25.009020Z")
        let c = tid.components
        #expect([c.year, c.month, c.day, c.hour, c.minute] == [2026, 11, 22, 3, 28])
        #expect(tid.rawValue >> 32 == 67972528)
        #expect(tid.rawValue & 0xffff_ffff == 1790215355)
    }

    @Test(arguments: [
        (1700000000.123456, 0x03f4_7f95_55dc_2e22 as UInt64, "2023-11-14 22:13:20.123456"),
        (0.0, 0x023c_2b00_0000_0000, "1970-01-01 00:00:00.000000"),
        (59.999999999, 0x023c_2b00_ffff_ffff, "1970-01-01 00:00:60.000000"),
        (1000000000.5, 0x033f_2eea_accc_cccc, "2001-09-09 01:46:40.500000"),
        (951782400.75, 0x0332_ade0_0333_3333, "2000-02-29 00:00:00.750000"),
        (4102444800.0, 0x0662_c400_0000_0000, "2100-01-01 00:00:00.000000"),
        (-2208988800.0, 0x0000_0000_0000_0000, "1900-01-01 00:00:00.000000"),
    ])
    func fromWallClock(seconds: Double, raw: UInt64, text: String) {
        let tid = TID(timeIntervalSince1970: seconds)
        #expect(tid == TID(raw), "\(tid) for \(seconds)")
        #expect(tid.timeStampString == text)
    }

    @Test(arguments: [
        (0x040d_2db0_ffff_ffff as UInt64, 1795318140.0),
        (0x03f4_7f95_55dc_2e22, 1700000000.123456),
        (0x0000_0000_0000_0000, -2208988800.0),
        (0x7fff_ffff_ffff_ffff, 124299454080.0),
        (0x0332_ade0_0333_3333, 951782400.75),
    ])
    func toWallClock(raw: UInt64, seconds: Double) {
        #expect(TID(raw).timeIntervalSince1970 == seconds)
    }

    @Test func theDocumentedExampleFromItsFields() {
        // TimeStamp(2026, 11, 22, 3, 28, 25.0090194) truncates to ...84ac.
        #expect(TID(year: 2026, month: 11, day: 22, hour: 3, minute: 28, second: 25.0090194) == TID(0x040d_2db0_6ab4_84ac))
        #expect(TID(year: 1899, month: 1, day: 1, hour: 0, minute: 0, second: 0) == nil)
        #expect(TID(year: 2023, month: 2, day: 29, hour: 0, minute: 0, second: 0) == nil)
        #expect(TID(year: 2024, month: 2, day: 29, hour: 0, minute: 0, second: 0) != nil)
        #expect(TID(year: 2024, month: 13, day: 1, hour: 0, minute: 0, second: 0) == nil)
        #expect(TID(year: 2024, month: 1, day: 1, hour: 24, minute: 0, second: 0) == nil)
    }

    @Test(arguments: [
        (0x040d_2db0_6ab4_84bb as UInt64, 0x040d_2db0_6ab4_84bc as UInt64),
        (0x03f4_7f95_55dc_2e22, 0x03f4_7f95_55dc_2e23),
        (0x0000_0000_0000_0000, 0x0000_0000_0000_0001),
        // Carry out of the seconds into the minute, hour, day, month, year.
        (0x040d_2db0_ffff_ffff, 0x040d_2db1_0000_0000),
        (0x040d_2dcf_ffff_ffff, 0x040d_2dd0_0000_0000),
        (0x040d_2e0f_ffff_ffff, 0x040d_2e10_0000_0000),
        (0x040d_5f7f_ffff_ffff, 0x040d_6520_0000_0000),  // 2026-11-30 23:59 → 12-01
        (0x040e_137f_ffff_ffff, 0x040e_1380_0000_0000),  // 2026-12-31 23:59 → 2027-01-01
        (0x03f6_d9df_ffff_ffff, 0x03f6_d9e0_0000_0000),  // 2024-02-28 23:59 → 02-29
        (0x03f6_df7f_ffff_ffff, 0x03f6_eac0_0000_0000),  // 2024-02-29 23:59 → 03-01
        (0x03ee_ad5f_ffff_ffff, 0x03ee_be40_0000_0000),  // 2023-02-28 23:59 → 03-01
        (0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000),
    ])
    func laterThanItself(raw: UInt64, expected: UInt64) {
        let tid = TID(raw)
        #expect(tid.laterThan(tid) == TID(expected))
    }

    @Test func laterThanKeepsALaterTime() {
        let earlier = TID(0x040d_2db0_6ab4_84bb)
        let later = TID(0x040d_2db0_7000_0000)
        #expect(later.laterThan(earlier) == later)
        #expect(earlier.laterThan(later) == TID(0x040d_2db0_7000_0001))
    }

    @Test func constantsAndRepr() {
        #expect(TID.zero.timeStampString == "1900-01-01 00:00:00.000000")
        #expect(TID.max.rawValue == 0x7fff_ffff_ffff_ffff)
        #expect(TID.max.timeStampString == "5908-11-23 02:07:60.000000")
        #expect(TID.zero.repr == "0x00")
        #expect(TID(0x040d_2dae_92f7_e0dd).repr == "0x040d2dae92f7e0dd")
        #expect(TID(0x040d_2dae_92f7_e0dd).description == "040d2dae92f7e0dd")
        #expect(TID(bytes: TID(0x0102).bytes) == TID(0x0102))
    }

    @Test func outOfRangeTimesClamp() {
        #expect(TID(timeIntervalSince1970: -1e300) == .zero)
        #expect(TID(timeIntervalSince1970: -.infinity) == .zero)
        #expect(TID(timeIntervalSince1970: .infinity) == .max)
        #expect(TID(timeIntervalSince1970: .nan) == .max)
        #expect(TID(timeIntervalSince1970: 1e300) == .max)
    }

    @Test func wallClockRoundTripIsMonotonic() {
        var previous = TID.zero
        var t = 1_600_000_000.0
        for _ in 0..<2000 {
            let tid = TID(timeIntervalSince1970: t)
            #expect(tid > previous)
            #expect(abs(tid.timeIntervalSince1970 - t) < 1e-6)
            previous = tid
            t += 3607.123457
        }
    }
}

import Storage
import Testing

@Suite struct FormatTests {
    @Test func transactionHeaderOfTheSample() throws {
        let header = try TransactionHeader(parsing: Samples.small[166...], at: 166, path: "small")
        #expect(header.tid == Samples.SmallLayout.tids[1])
        #expect(header.length == 334)
        #expect(header.status == TransactionStatus.committed)
        #expect(header.userLength == 5)
        #expect(header.descriptionLength == 5)
        #expect(header.extensionLength == 27)
        #expect(header.headerLength == 23 + 5 + 5 + 27)
        #expect(header.serialized() == Array(Samples.small[166..<189]))
    }

    @Test func dataHeaderOfTheSample() throws {
        let header = try DataHeader(parsing: Samples.small[725...], at: 725, path: "small")
        #expect(header.oid == OID(1))
        #expect(header.tid == Samples.SmallLayout.tids[3])
        #expect(header.previous == 539)
        #expect(header.transactionPosition == 691)
        #expect(header.versionLength == 0)
        #expect(header.pickleLength == 0)
        #expect(header.hasBackpointer)
        #expect(header.recordLength == 50)
        #expect(header.serialized() == Array(Samples.small[725..<767]))
    }

    @Test func roundTrips() throws {
        let transaction = TransactionHeader(
            tid: TID(0x0102_0304_0506_0708), length: 0x1122_3344, status: TransactionStatus.packed,
            userLength: 0xabcd, descriptionLength: 1, extensionLength: 0xffff)
        let bytes = transaction.serialized()
        #expect(bytes.count == TransactionHeader.size)
        #expect(try TransactionHeader(parsing: bytes, at: 0, path: "x") == transaction)

        let data = DataHeader(
            oid: OID(7), tid: TID(0x0102_0304_0506_0708), previous: 1234, transactionPosition: 99, pickleLength: 0x0102_0304_0506)
        #expect(data.serialized().count == DataHeader.size)
        #expect(try DataHeader(parsing: data.serialized(), at: 0, path: "x") == data)
        #expect(data.recordLength == 42 + 0x0102_0304_0506)
    }

    @Test func validation() {
        #expect(storageError { try TransactionHeader(parsing: [UInt8](repeating: 0, count: 22), at: 10, path: "f") }?.corruptionOffset == 10)
        #expect(storageError { try DataHeader(parsing: [UInt8](repeating: 0, count: 41), at: 11, path: "f") }?.corruptionOffset == 11)

        var badStatus = TransactionHeader(tid: .zero, length: 100, status: UInt8(ascii: "x"), userLength: 0, descriptionLength: 0, extensionLength: 0)
        #expect(storageError { try TransactionHeader(parsing: badStatus.serialized(), at: 5, path: "f") }?.corruptionOffset == 5)
        badStatus.status = TransactionStatus.checkpoint
        #expect((try? TransactionHeader(parsing: badStatus.serialized(), at: 5, path: "f")) != nil)

        let short = TransactionHeader(tid: .zero, length: 30, status: TransactionStatus.committed, userLength: 5, descriptionLength: 5, extensionLength: 0)
        #expect(storageError { try TransactionHeader(parsing: short.serialized(), at: 6, path: "f") }?.corruptionOffset == 6)

        let versioned = DataHeader(oid: .root, tid: .zero, previous: 0, transactionPosition: 4, versionLength: 3, pickleLength: 10)
        #expect(storageError { try DataHeader(parsing: versioned.serialized(), at: 77, path: "f") }?.corruptionOffset == 77)

        let huge = DataHeader(oid: .root, tid: .zero, previous: 0, transactionPosition: 4, pickleLength: .max)
        #expect(huge.recordLength == nil)
    }
}

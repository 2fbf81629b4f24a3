import Pickle
import Testing

/// Decoding a `Pdata` record from its head and tail only, the payload left on disk.
@Suite struct PickleInputTests {
    private let record = Fixtures.pdataFirst.record
    private let payloadOffset = Fixtures.pdataPayloadOffset
    private let payloadLength = Fixtures.pdataPayload.count

    private func input(headCount: Int, tailCount: Int) -> PickleInput {
        PickleInput(
            head: Array(record.prefix(headCount)),
            tail: Array(record.suffix(tailCount)),
            totalLength: record.count
        )
    }

    private func decodeRecord(_ input: PickleInput, threshold: Int?) throws -> (PickleValue, PickleValue) {
        var decoder = PickleDecoder(input, largeBytesThreshold: threshold)
        let classMetadata = try decoder.decodeNext()
        let state = try decoder.decodeNext()
        #expect(decoder.isAtEnd)
        return (classMetadata, state)
    }

    @Test(arguments: [(4096, 4096), (44, 33), (256, 100)])
    func payloadInTheGapBecomesAByteRange(headCount: Int, tailCount: Int) throws {
        let input = input(headCount: headCount, tailCount: tailCount)
        #expect(input.count == record.count)
        let (classMetadata, state) = try decodeRecord(input, threshold: 4096)
        #expect(classMetadata == .global(module: "OFS.Image", name: "Pdata"))
        #expect(state == dict([
            "data": .byteRange(offset: payloadOffset, length: payloadLength),
            // `next` follows the payload: read from the tail, its class from memo 0 in the head.
            "next": ref(0x6, "OFS.Image", "Pdata"),
        ]))
        #expect(Array(record[payloadOffset ..< payloadOffset + payloadLength]) == Fixtures.pdataPayload.reversed())
    }

    @Test func thresholdAlsoAppliesToCompleteInput() throws {
        let (_, state) = try decodeRecord(PickleInput(record), threshold: payloadLength)
        #expect(state["data"] == .byteRange(offset: payloadOffset, length: payloadLength))
        let (_, below) = try decodeRecord(PickleInput(record), threshold: payloadLength + 1)
        #expect(below["data"]?.bytesValue?.count == payloadLength)
    }

    @Test func smallBytesAreStillCopied() throws {
        // The 8-byte oid in the tail is below the threshold and decodes normally.
        let (_, state) = try decodeRecord(input(headCount: 64, tailCount: 64), threshold: 4096)
        #expect(state["next"]?.persistentIDArgument?.tupleElements?.first == .bytes(oidBytes(0x6)))
    }

    @Test func readingIntoTheGapThrows() {
        var decoder = PickleDecoder(input(headCount: 256, tailCount: 256))
        #expect(throws: PickleError(.unavailable, at: 256)) {
            _ = try decoder.decodeNext()
            _ = try decoder.decodeNext()
        }
    }

    @Test func truncatedHeadThrowsUnavailable() {
        // The head stops inside the `BINBYTES` length field.
        var decoder = PickleDecoder(input(headCount: 41, tailCount: 33), largeBytesThreshold: 4096)
        #expect(throws: PickleError.self) {
            _ = try decoder.decodeNext()
            _ = try decoder.decodeNext()
        }
    }

    @Test func overlappingHeadAndTailJoin() throws {
        let joined = input(headCount: 40_000, tailCount: 30_000)
        let (_, state) = try decodeRecord(joined, threshold: nil)
        #expect(state["data"]?.bytesValue == Fixtures.pdataPayload.reversed())
        let exact = input(headCount: 40_000, tailCount: record.count - 40_000)
        #expect(try decodeRecord(exact, threshold: nil).1 == state)
    }
}

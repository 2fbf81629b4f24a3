import Foundation
@testable import Storage
import SystemPackage
import Testing

/// The packed file's bytes as the copy phases build them: spans of the
/// input with edits, bytes of the writer's own, and patches of what was
/// appended before — a transaction's length, written once its records are
/// — wherever those bytes are by then: in the pending run, in the chunk
/// being filled, or already on their way to the disk (direct or not), and
/// across a chunk's boundary.
@Suite struct PackWriterTests {
    @Test(arguments: [true, false]) func patchesLandWhereverTheBytesAre(direct: Bool) throws {
        let directory = try TemporaryDirectory()
        var input = [UInt8](repeating: 0, count: 7 << 20)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in input.indices {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            input[i] = UInt8(truncatingIfNeeded: seed >> 33)
        }
        let sourcePath = try directory.write("Data.fs", input)
        let descriptor = try FileDescriptor.open(FilePath(sourcePath), .readOnly)
        defer { try? descriptor.close() }
        let source = try PackInput(descriptor, path: sourcePath, end: UInt64(input.count))
        let writer = try PackWriter(
            path: directory.path + "/Data.fs.pack", source: source, magic: Array("FS30".utf8), spareCache: true,
            directIO: direct)
        var expected = Array("FS30".utf8)

        func copy(_ offset: Int, _ length: Int, edits: [(Int, [UInt8])] = []) throws {
            try writer.copy(from: source, at: UInt64(offset), length: UInt64(length), edits: edits.map { (UInt64($0.0), $0.1) })
            var span = Array(input[offset..<(offset + length)])
            for (at, bytes) in edits { span.replaceSubrange(at..<(at + bytes.count), with: bytes) }
            expected += span
        }
        func write(_ bytes: [UInt8]) throws {
            try writer.write(bytes)
            expected += bytes
        }
        func patch(_ offset: Int, _ bytes: [UInt8]) throws {
            try writer.patch(at: UInt64(offset), bytes)
            expected.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        let mark: (UInt8) -> [UInt8] = { [UInt8](repeating: $0, count: 8) }

        // A header edit, then a run of 3 MiB: the first chunk goes out.
        try copy(100, 40, edits: [(0, mark(0xA0) + mark(0xA1) + [7])])
        try copy(140, 3 << 20, edits: [(16, mark(0xA2))])
        try patch(4 + 8, mark(0xB0))                      // inside the header edit of the pending run
        try patch(4 + 40 + 20, mark(0xB1))                // in the run, not under an edit: flushed first
        try patch(4 + 1000, mark(0xB2))                   // in a chunk already handed over
        try patch((2 << 20) - 4, mark(0xB3))              // across the first chunk's end
        try write(Array(repeating: 0x11, count: 5000))
        try patch(expected.count - 100, mark(0xB4))       // in the chunk being filled
        try copy(5 << 20, 1 << 20)
        try copy((6 << 20) + 10, 300_000, edits: [(0, mark(0xA3))])
        try patch(expected.count - 300_000, mark(0xB5))   // under the edit of the newest run
        try patch((3 << 20) + 3, mark(0xB6))              // in the second chunk, handed over
        try writer.finish()
        let written = try Data(contentsOf: URL(fileURLWithPath: writer.path))
        #expect(written.count == expected.count)
        #expect(Array(written) == expected)
        try writer.descriptor.close()
    }
}

import Foundation
import FuzzTargets
import Testing

/// Replays the kept fuzz corpus (`Corpus/<parser>/`: every input that once
/// crashed, hung or over-allocated, plus a few that reach deep into the
/// parser) through the same code the libFuzzer executables in `Fuzz/` run.
/// Each input must be handled — a value or a thrown error inside the target;
/// a regression traps and takes the test process down with the input's name
/// printed just before.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    /// The inputs of one parser's corpus, by name.
    static func inputs(_ parser: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = corpus.appendingPathComponent(parser)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        return try names.map { name in
            (name, Array(try Data(contentsOf: folder.appendingPathComponent(name))))
        }
    }

    static func replay(_ parser: String, _ run: ([UInt8]) -> Void) throws {
        let inputs = try inputs(parser)
        #expect(!inputs.isEmpty, "no corpus for \(parser)")
        for input in inputs {
            print("fuzz corpus \(parser)/\(input.name)")
            run(input.bytes)
        }
    }

    @Test func pickleDecoderAndReferenceScanner() throws {
        try Self.replay("pickle", PickleFuzzTarget.run)
    }

    @Test func fileStorageRecords() throws {
        try Self.replay("filestorage", FileStorageFuzzTarget.run)
    }

    @Test func indexFile() throws {
        try Self.replay("index", IndexFileFuzzTarget.run)
    }

    @Test func repozoDatFile() throws {
        try Self.replay("dat", DatFileFuzzTarget.run)
    }

    @Test func packOfDamagedStores() throws {
        try Self.replay("pack", PackFuzzTarget.run)
    }
}

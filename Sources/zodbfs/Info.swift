import ArgumentParser
import FS
import Storage

/// `zodbfs info STORE`: what `.zodbfs/info` shows, for a Data.fs that is not mounted.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a Data.fs: format, size, objects, last transaction.")

    @Argument(help: "The Data.fs file.") var store: String

    func run() throws {
        let fs = try StoreAccess.filesystem(store)
        print(fs.infoText(), terminator: "")
        print("index: \((fs.storage as? FileStorage)?.usedIndexFile == true ? "Data.fs.index used" : "rebuilt by a scan")")
    }
}

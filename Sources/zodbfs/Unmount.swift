import ArgumentParser
import FUSE

/// `zodbfs unmount MOUNTPOINT`: the running mount sees the unmount,
/// finishes its requests and exits.
struct Unmount: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unmount a zodbfs mount.")

    @Argument(help: "The mount point.") var mountpoint: String

    func run() throws {
        do {
            try FuseSession.unmount(mountpoint)
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

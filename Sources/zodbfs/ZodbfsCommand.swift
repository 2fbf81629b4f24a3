import ArgumentParser

/// The `zodbfs` command line (DESIGN.md "The command line"). Each
/// subcommand parses and validates, then calls into the library targets.
@main
struct ZodbfsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zodbfs",
        abstract: "Mount a ZODB FileStorage (Zope's Data.fs) as a directory tree.",
        subcommands: [Mount.self, Unmount.self, List.self, Cat.self, Info.self, Stats.self, Pack.self, Backup.self, Restore.self],
        // `mount -t fuse.zodbfs STORE DIR -o …` runs `zodbfs STORE DIR -o …`.
        defaultSubcommand: Mount.self
    )
}

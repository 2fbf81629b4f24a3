import Foundation
import TestSupport
import Testing

/// The POSIX behaviour table of README.md, case by case, on a real
/// writable mount (`Scripts/peers/posix_cases.py` runs the calls).
@Suite(.serialized, .enabled(if: MountedStore.available)) struct PosixBehaviourTests {
    /// Case → `ok` or the errno name; the README's table says the same.
    static let expected: [(String, String)] = [
        ("create, write, close, read", "ok"),
        ("open O_CREAT|O_EXCL of an existing file", "EEXIST"),
        ("append (O_APPEND)", "ok"),
        ("overwrite in the middle", "ok"),
        ("truncate", "ok"),
        ("a write seen through a descriptor opened before it", "ok"),
        ("a write seen through a descriptor opened during it", "ok"),
        ("chmod", "ok"),
        ("utimens", "ok"),
        ("chown to another user", "EPERM"),
        ("mkdir of an existing name", "EEXIST"),
        ("rmdir of a non-empty folder", "ENOTEMPTY"),
        ("rmdir of a file", "ENOTDIR"),
        ("rmdir of an empty folder", "ok"),
        ("unlink of a folder", "EISDIR"),
        ("rename over an existing file", "ok"),
        ("rename a folder over a file", "ENOTDIR"),
        ("rename a file over a folder", "EISDIR"),
        ("rename with RENAME_NOREPLACE over a file", "EEXIST"),
        ("rename with RENAME_EXCHANGE", "EINVAL"),
        ("symlink", "EPERM"),
        ("hard link", "EPERM"),
        ("mkfifo", "EPERM"),
        ("a name Zope cannot hold (_private)", "EINVAL"),
        ("a name Zope cannot hold (a&b)", "EINVAL"),
        ("a name of 256 bytes", "ENAMETOOLONG"),
        ("setxattr user.zope.title", "ok"),
        ("setxattr of another attribute", "ENOTSUP"),
        ("getxattr of a missing attribute", "ENODATA"),
        ("posix_fallocate", "ok"),
        ("write to .zodbfs/info", "EACCES"),
        ("mkdir inside .zodbfs", "EPERM"),
    ]

    @Test func everyCaseBehavesAsTheTableSays() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try WriteMountTests.copyOfFixture(in: scratch)
        let mount = try MountedStore(store: store, in: scratch)
        defer { try? mount.unmount() }
        let result = try runCommand(try TestEnvironment.python(),
                                    [TestEnvironment.script("peers/posix_cases.py"), mount.mountpoint])
        #expect(result.status == 0, "\(result.stderr)")
        let got = result.stdout.split(separator: "\n").map { line -> (String, String) in
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        #expect(got.map(\.0) == Self.expected.map(\.0))
        for ((name, result), (_, expected)) in zip(got, Self.expected) {
            #expect(result == expected, "\(name)")
        }
        try mount.unmount()
        // And the store is still one ZODB and Zope are happy with.
        #expect(try StoreVerification(dataFS: store).problems == [])
    }
}

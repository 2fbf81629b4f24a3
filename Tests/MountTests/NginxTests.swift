import Foundation
import TestSupport
import Testing

/// nginx serving a mount with the shipped site, `examples/nginx-site.conf`,
/// as it stands but for where it listens (127.0.0.1 only) and its root:
/// the worker runs as www-data, so it reads through `allow_other`.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct NginxTests {
    @Test func shippedSiteServesFilesRangesAndRefusesTheControlFolder() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try shell("chmod 0755 \(quoted(scratch.url.path))")
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--allow-other", "--read-only"])
        defer { try? mount.unmount() }
        let server = try NginxServer(siteFor: mount.mountpoint, in: scratch)
        defer { server.stop() }
        #expect(server.workerUsers == ["www-data"], "nginx workers run as \(server.workerUsers)")

        // 200, the manifest's bytes and its content type, for text, HTML,
        // images, binaries, and names that need escaping in a URL.
        let paths = ["docs/readme.txt", "docs/page.html", "docs/日本語.txt", "images/photo.png", "images/pixel.gif",
                     "images/drawing.svg", "images/gradient large.png", "Ünïcödé folder/Ωμέγα.bin", "files/empty.txt"]
        let largest = fixture.files.max { $0.size! < $1.size! }!
        for entry in paths.map({ path in fixture.manifest.entries.first { $0.path == path }! }) + [largest] {
            let response = try server.get(entry.path, to: scratch.path("body"))
            #expect(response.status == "200", "\(entry.path)")
            #expect(response.mediaType == entry.content_type, "\(entry.path): \(response.contentType)")
            let body = (try? Data(contentsOf: URL(fileURLWithPath: scratch.path("body")))) ?? Data()
            #expect(body.count == entry.size && sha256Hex(body) == entry.sha256, "\(entry.path)")
        }

        // 206 and exactly the slice, across chunk boundaries and at the ends.
        let whole = try Data(contentsOf: URL(fileURLWithPath: mount.path(largest.path)))
        #expect(sha256Hex(whole) == largest.sha256)
        let size = largest.size!
        for (from, to) in [(0, 0), (1000, 200_000), (65_530, 65_545), (size - 1_000_000, size - 1), (size / 2, size - 1)] {
            let part = try server.get(largest.path, to: scratch.path("part"), range: "\(from)-\(to)")
            #expect(part.status == "206", "range \(from)-\(to)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch.path("part")))
            #expect(bytes == whole.subdata(in: from..<(to + 1)), "range \(from)-\(to)")
        }
        let photo = fixture.manifest.entries.first { $0.path == "images/photo.png" }!
        let tail = try server.get(photo.path, to: scratch.path("tail"), range: "-100")
        #expect(tail.status == "206" && tail.mediaType == "image/png")
        let photoBytes = try Data(contentsOf: URL(fileURLWithPath: mount.path(photo.path)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("tail"))) == photoBytes.suffix(100))

        // 404 for what is not there; 403 for the control folder and all in it.
        for missing in ["no-such-file", "docs/no-such-file.txt", "no-such-folder/x"] {
            #expect(try server.get(missing, to: "/dev/null").status == "404", "\(missing)")
        }
        for control in [".zodbfs/", ".zodbfs/info", ".zodbfs/stats", ".zodbfs/pack", ".zodbfs/backup"] {
            let response = try server.get(control, to: scratch.path("control"))
            #expect(response.status == "403", "\(control): \(response.status)")
            let body = (try? String(contentsOfFile: scratch.path("control"), encoding: .utf8)) ?? ""
            #expect(!body.contains("storage:") && !body.contains("zodbfs_"), "\(control) leaked: \(body)")
        }
        server.stop()
        try mount.unmount()
    }
}

/// nginx started as root with the shipped site file included in a minimal
/// nginx.conf, its pid file, logs and temporary folders in a scratch folder.
final class NginxServer {
    let port: Int
    private let config: String
    private let prefix: String
    private var running = false

    init(siteFor root: String, in scratch: ScratchDirectory) throws {
        let shipped = try String(contentsOfFile: TestEnvironment.packageRoot.appendingPathComponent("examples/nginx-site.conf").path,
                                 encoding: .utf8)
        let port = try Self.freePort()
        self.port = port
        var replaced = 0
        let site = shipped.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let setting = line.trimmingCharacters(in: .whitespaces)
            let indent = line.prefix { $0 == " " }
            if setting.hasPrefix("listen ") {
                replaced += 1
                return indent + "listen 127.0.0.1:\(port);"
            }
            if setting.hasPrefix("root ") {
                replaced += 1
                return indent + "root \(root);"
            }
            return String(line)
        }.joined(separator: "\n")
        guard replaced == 2 else {
            throw TestEnvironment.Missing(description: "examples/nginx-site.conf: expected one listen and one root line")
        }
        prefix = scratch.path("nginx")
        let temp = prefix + "/tmp"
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        try site.write(toFile: prefix + "/site.conf", atomically: true, encoding: .utf8)
        config = prefix + "/nginx.conf"
        try """
            user www-data;
            worker_processes 1;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/error.log;
            events { worker_connections 64; }
            http {
                include /etc/nginx/mime.types;
                default_type application/octet-stream;
                access_log off;
                client_body_temp_path \(temp)/client;
                proxy_temp_path \(temp)/proxy;
                fastcgi_temp_path \(temp)/fastcgi;
                uwsgi_temp_path \(temp)/uwsgi;
                scgi_temp_path \(temp)/scgi;
                include \(prefix)/site.conf;
            }

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try runCommand("nginx", ["-t", "-c", config, "-p", prefix], timeout: 60)
        guard check.status == 0 else {
            throw TestEnvironment.Missing(description: "nginx -t: \(check.stderr)")
        }
        let started = try runCommand("nginx", ["-c", config, "-p", prefix], timeout: 60)
        guard started.status == 0 else {
            throw TestEnvironment.Missing(description: "nginx: \(started.stderr)")
        }
        running = true
        for _ in 0..<200 {
            if (try? shell("curl -s -o /dev/null http://127.0.0.1:\(port)/", allowFailure: true))?.status == 0 { break }
            usleep(50_000)
        }
    }

    struct Response {
        var status: String
        var contentType: String
        /// The content type without parameters (`; charset=…`).
        var mediaType: String {
            contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        }
    }

    func get(_ path: String, to output: String, range: String? = nil) throws -> Response {
        let escaped = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)! }.joined(separator: "/")
        let url = "http://127.0.0.1:\(port)/" + escaped
        // curl creates no file for an empty body: never leave an earlier one there.
        if output != "/dev/null" { try? FileManager.default.removeItem(atPath: output) }
        let result = try shell("curl -s -o \(quoted(output)) -w '%{http_code} %{content_type}' \(range.map { "-r \($0) " } ?? "")\(quoted(url))")
        let parts = result.stdout.split(separator: " ", maxSplits: 1).map(String.init)
        return Response(status: parts.first ?? "", contentType: parts.count > 1 ? parts[1] : "")
    }

    var masterPid: Int32 {
        Int32(((try? String(contentsOfFile: prefix + "/nginx.pid", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// nginx's worker processes: the children of its master.
    var workerPids: [Int32] {
        let master = masterPid
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            Self.status(pid, "PPid").flatMap { Int32($0) } == master && processIsRunning(pid)
        }
    }

    /// The users nginx's worker processes run as (by effective uid).
    var workerUsers: [String] {
        workerPids.compactMap { pid in
            guard let uids = Self.status(pid, "Uid"), let uid = uid_t(uids.split(separator: "\t").dropFirst().first ?? ""),
                  let entry = getpwuid(uid) else { return nil }
            return String(cString: entry.pointee.pw_name)
        }
    }

    /// A field of /proc/PID/status.
    static func status(_ pid: Int32, _ field: String) -> String? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            .map { $0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    /// Stops nginx and waits for its processes to go, so they no longer
    /// hold files in the mount.
    func stop() {
        guard running else { return }
        running = false
        let master = masterPid
        let workers = workerPids
        _ = try? runCommand("nginx", ["-c", config, "-p", prefix, "-s", "stop"], timeout: 60)
        _ = waitUntil(seconds: 10) { ([master] + workers).allSatisfy { !processIsRunning($0) } }
    }

    deinit { stop() }

    /// A TCP port on 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestEnvironment.Missing(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestEnvironment.Missing(description: "bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

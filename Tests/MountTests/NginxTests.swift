import Foundation
import TestSupport
import Testing

/// nginx (listening on 127.0.0.1 only) serving a large file from the
/// mount, whole and by Range, byte-identical.
@Suite(.serialized, .enabled(if: MountedStore.available)) struct NginxTests {
    @Test func servesTheLargestFileWholeAndByRange() throws {
        let fixture = try TestEnvironment.zopeFixture()
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let mount = try MountedStore(store: fixture.dataFS, in: scratch, arguments: ["--allow-other", "--read-only"])
        defer { try? mount.unmount() }

        let port = Int.random(in: 20_000..<60_000)
        let config = """
        worker_processes 1;
        pid \(scratch.path("nginx.pid"));
        error_log \(scratch.path("error.log"));
        events { worker_connections 64; }
        http {
            include /etc/nginx/mime.types;
            access_log off;
            sendfile on;
            client_body_temp_path \(scratch.path("tmp"));
            proxy_temp_path \(scratch.path("tmp"));
            fastcgi_temp_path \(scratch.path("tmp"));
            uwsgi_temp_path \(scratch.path("tmp"));
            scgi_temp_path \(scratch.path("tmp"));
            server {
                listen 127.0.0.1:\(port);
                root \(mount.mountpoint);
                location /.zodbfs/ { deny all; }
            }
        }
        """
        try FileManager.default.createDirectory(atPath: scratch.path("tmp"), withIntermediateDirectories: true)
        try config.write(toFile: scratch.path("nginx.conf"), atomically: true, encoding: .utf8)
        try shell("nginx -c \(scratch.path("nginx.conf")) -p \(scratch.url.path) </dev/null >/dev/null 2>&1")
        defer { _ = try? shell("nginx -c \(scratch.path("nginx.conf")) -p \(scratch.url.path) -s stop", allowFailure: true) }
        for _ in 0..<100 {
            if (try? shell("curl -s -o /dev/null http://127.0.0.1:\(port)/", allowFailure: true))?.status == 0 { break }
            usleep(50_000)
        }

        let largest = fixture.files.max { $0.size! < $1.size! }!
        let url = "http://127.0.0.1:\(port)/" + largest.path.split(separator: "/")
            .map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)! }.joined(separator: "/")
        let whole = try shell("curl -s -f -o \(scratch.path("whole")) -w '%{http_code}' \(quoted(url))")
        #expect(whole.stdout == "200")
        let body = try Data(contentsOf: URL(fileURLWithPath: scratch.path("whole")))
        #expect(sha256Hex(body) == largest.sha256)

        let size = largest.size!
        for (from, to) in [(0, 0), (1000, 200_000), (65_530, 65_545), (size - 1_000_000, size - 1), (size / 2, size - 1)] {
            let part = try shell("curl -s -o \(scratch.path("part")) -w '%{http_code}' -r \(from)-\(to) \(quoted(url))")
            #expect(part.stdout == "206", "range \(from)-\(to)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch.path("part")))
            #expect(bytes == body.subdata(in: from..<(to + 1)), "range \(from)-\(to)")
        }
        let missing = try shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/no-such-file")
        #expect(missing.stdout == "404")
        let control = try shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/.zodbfs/info")
        #expect(control.stdout == "403")
    }
}

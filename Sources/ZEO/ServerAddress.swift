/// Where a ZEO server listens, as `runzeo -a` takes it: `HOST:PORT`, a bare
/// `PORT` (on 127.0.0.1), or the path of a unix socket (anything with a `/`).
public enum ServerAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public init?(_ text: String) {
        if text.contains("/") {
            self = .unix(path: text)
            return
        }
        if let port = Int(text), (1...65535).contains(port) {
            self = .tcp(host: "127.0.0.1", port: port)
            return
        }
        // `[::1]:8100` and `host:8100`: the port follows the last colon.
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }
}

/// The `content_type` Zope 6 gives a File it was not told the type of: `File._get_content_type`
/// calls `zope.contenttype.guess_content_type(name, body, default)`, which asks Python's
/// `mimetypes.guess_type(name, strict=False)` and, only for names it does not know, looks at the
/// body. The extension tables are embedded (`MimeTypeTable`: Python 3.11's built-in ones plus
/// zope.contenttype's `mime.types`, without the host's `/etc/mime.types`).
public enum ContentTypeGuess {
    /// What `manage_addFile(id, file=body)` stores when no content type is given:
    /// `File.__init__` guesses with the default `''` for the still-empty body, and a non-empty body is
    /// then uploaded by `manage_upload`, which guesses again with the default
    /// `'application/octet-stream'`. So a known extension wins; otherwise an empty file is
    /// `text/x-unknown-content-type` and any other `application/octet-stream` — the body is never
    /// sniffed on this path, and only whether it is empty matters.
    public static func contentType(name: String, body: some Collection<UInt8>) -> String {
        if body.isEmpty { return guess(name: name, body: body, default: "").type }
        return guess(name: name, body: body, default: "application/octet-stream").type
    }

    /// `zope.contenttype.guess_content_type(name, body, default)`: the type (lowercased) and the
    /// encoding (`gzip` for `.gz`, …; Zope stores only the type).
    ///
    /// For a name `mimetypes` does not know: with a non-empty `default` that is the type; otherwise
    /// a body holding any byte 0x00–0x07 is `application/octet-stream`, other bodies are sniffed for
    /// HTML/XML (`text_type`), and an empty body is `text/x-unknown-content-type`. Sniffing reads the
    /// whole of `body`, as Python does, so pass the whole body for an exact answer.
    public static func guess(name: String, body: some Collection<UInt8>, default: String?) -> (type: String, encoding: String?) {
        let fallback = `default`.flatMap { $0.isEmpty ? nil : $0 }
        var (type, encoding) = mimeType(forName: name)
        if type == nil {
            if body.isEmpty {
                type = fallback ?? "text/x-unknown-content-type"
            } else if body.contains(where: { $0 <= 0x07 }) {
                type = fallback ?? "application/octet-stream"
            } else {
                type = fallback ?? textType(body)
            }
        }
        return (type!.lowercased(), encoding?.lowercased())
    }

    /// `mimetypes.guess_type(name, strict=False)` over the embedded tables (Python 3.11.7's
    /// `MimeTypes.guess_type`): a `data:` URL gives its media type; otherwise the extension after
    /// shorthand suffixes (`.tgz` → `.tar.gz`) and a compression suffix (case-sensitive) is looked up
    /// lowercased, first in the standard table, then in the common non-standard one.
    public static func mimeType(forName name: String) -> (type: String?, encoding: String?) {
        var url = Array(name.unicodeScalars)
        // urllib.parse._splittype: `([^/:]+):(.*)` at the start.
        if let colon = url.firstIndex(where: { $0 == ":" || $0 == "/" }), colon > 0, url[colon] == ":" {
            let scheme = String(String.UnicodeScalarView(url[..<colon])).lowercased()
            url = Array(url[(colon + 1)...])
            if scheme == "data" { return (dataURLType(url), nil) }
        }
        var (base, ext) = splitExtension(url)
        while let expansion = MimeTypeTable.suffixes[string(ext).lowercased()] {
            (base, ext) = splitExtension(base + Array(expansion.unicodeScalars))
        }
        var encoding: String?
        if let compression = MimeTypeTable.encodings[string(ext)] {
            encoding = compression
            (base, ext) = splitExtension(base)
        }
        let key = string(ext).lowercased()
        return (MimeTypeTable.strict[key] ?? MimeTypeTable.common[key], encoding)
    }

    /// `zope.contenttype.text_type`: HTML or XML by the first 14 non-blank bytes, HTML if `</`
    /// occurs anywhere, else plain text.
    public static func textType(_ body: some Collection<UInt8>) -> String {
        let bytes = Array(body)
        // bytes.strip(): ASCII whitespace (space, \t, \n, \v, \f, \r) at both ends.
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
        if let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) {
            let head = bytes[first ... last].prefix(14).map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            if head.count == 14 {
                if head.starts(with: "<html>".utf8) || head.starts(with: "<!doctype html".utf8) { return "text/html" }
                if head.starts(with: "<?xml".utf8) { return "text/xml" }
            }
        }
        for index in bytes.indices.dropLast() where bytes[index] == UInt8(ascii: "<") && bytes[index + 1] == UInt8(ascii: "/") {
            return "text/html"
        }
        return "text/plain"
    }

    /// `mediatype` of `data:[mediatype][;base64],data`, `text/plain` when it is no `type/subtype`,
    /// nil without a comma.
    private static func dataURLType(_ url: [Unicode.Scalar]) -> String? {
        guard let comma = url.firstIndex(of: ",") else { return nil }
        let end = url[..<comma].firstIndex(of: ";") ?? comma
        let type = url[..<end]
        if type.contains("=") || !type.contains("/") { return "text/plain" }
        return String(String.UnicodeScalarView(type))
    }

    /// `posixpath.splitext`: the extension starts at the last dot after the last slash, unless only
    /// dots precede it in that component (`.bashrc` has none).
    private static func splitExtension(_ path: [Unicode.Scalar]) -> (base: [Unicode.Scalar], ext: [Unicode.Scalar]) {
        let slash = path.lastIndex(of: "/") ?? -1
        guard let dot = path.lastIndex(of: "."), dot > slash else { return (path, []) }
        guard path[(slash + 1) ..< dot].contains(where: { $0 != "." }) else { return (path, []) }
        return (Array(path[..<dot]), Array(path[dot...]))
    }

    private static func string(_ scalars: [Unicode.Scalar]) -> String {
        String(String.UnicodeScalarView(scalars))
    }
}

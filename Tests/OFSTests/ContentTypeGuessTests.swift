import Foundation
@testable import OFS
import TestSupport
import Testing

/// `ContentTypeGuess` answers what `zope.contenttype.guess_content_type` answers, run by
/// `Scripts/peers/guess_content_type.py` with `mimetypes` limited to Python's built-in table and
/// zope.contenttype's `mime.types` (the host's `/etc/mime.types` is not read, on either side).
@Suite struct ContentTypeGuessTests {
    struct Case: Codable {
        var name: String
        var body: String
        var `default`: String?
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static func text(_ string: String) -> String { hex(Array(string.utf8)) }

    static let png = hex([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52])
    static let jpeg = hex([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0x4A, 0x46, 0x49, 0x46, 0])
    static let gif = text("GIF89a") + "0100010080ff00"
    static let binary = hex([0x10, 0x20, 0x00, 0x30])
    static let highBytes = hex([0xC3, 0xA9, 0x80, 0xFF, 0x41])

    static let cases: [Case] = {
        var cases: [Case] = []
        let names = [
            "index.html", "page.htm", "feed.xml", "style.css", "app.js", "module.mjs", "data.json", "pixel.png",
            "photo.jpg", "photo.jpeg", "anim.gif", "notes.txt", "README", "Makefile", "archive.tar.gz",
            "archive.tgz", "backup.tar.bz2", "logo.svg", "logo.svgz", "paper.pdf", "REPORT.PDF", "Photo.JPG",
            "font.woff", "font.woff2", "font.ttf", "icon.ico", "movie.mp4", "song.mp3", "sheet.xlsx",
            "doc.docx", "legacy.doc", "slides.pptx", "image.webp", "clip.webm", "mail.eml", "card.vcf",
            "script.py", "run.sh", "source.c", "header.h", "photo.jp2", "old.rtf", "music.mid", "x.pct",
            "résumé.txt", "日本語.html", "données", "Café menu.txt", ".bashrc", "..", "...txt", "dir/file.css",
            "a.b.c.json", "noext.", "data:text/html;base64,PGI+", "data:foo", "data:,hello", "DATA:image/png,x",
            "http:page.html", "odd:name.css", "file.Z", "file.GZ", "x.tar.xz", "x.txz", "x.tbz2", "archive.zip",
            "bundle.7z", "thing.unknownext", "trailing.html ", "K.\u{212A}ML",
        ]
        for name in names {
            cases.append(Case(name: name, body: text("hello"), default: "application/octet-stream"))
            cases.append(Case(name: name, body: "", default: ""))
        }
        // Names Python does not know: the body decides when there is no default.
        let bodies = [
            text("<html><body>hi</body></html>"), text("  <!DOCTYPE html>\n<html></html>"), text("<?xml version=\"1.0\"?><a/>"),
            text("<HTML>\n<HEAD>x"), text("plain words"), text("a </b> c"), text("<?xml"), text("   \n\t "),
            png, jpeg, gif, binary, highBytes, text("{\"json\": true}"), text("x\u{07}y"), text("x\u{08}y"), "",
        ]
        for body in bodies {
            for name in ["unknown", "file.unknownext", "file"] {
                cases.append(Case(name: name, body: body, default: nil))
                cases.append(Case(name: name, body: body, default: ""))
                cases.append(Case(name: name, body: body, default: "Application/X-Custom"))
            }
        }
        return cases
    }()

    @Test func guessesAsZopeDoes() throws {
        let python = try TestEnvironment.python()
        let scratch = try ScratchDirectory("zodbfs-content-type")
        defer { scratch.cleanUp() }
        let path = scratch.path("cases.json")
        try JSONEncoder().encode(Self.cases).write(to: URL(fileURLWithPath: path))
        let result = try runCommand(python, [TestEnvironment.script("peers/guess_content_type.py"), "guess", path])
        #expect(result.status == 0, "\(result.stderr)")
        let answers = try JSONDecoder().decode([[String?]].self, from: result.stdoutData)
        #expect(answers.count == Self.cases.count)
        #expect(Self.cases.count > 200)
        for (testCase, answer) in zip(Self.cases, answers) {
            let body = ZopeFileRecordsTests.bytes(testCase.body)
            let ours = ContentTypeGuess.guess(name: testCase.name, body: body, default: testCase.default)
            #expect(ours.type == answer[0], "\(testCase.name) \(testCase.body.prefix(20)) \(testCase.default ?? "nil")")
            #expect(ours.encoding == answer[1], "\(testCase.name)")
        }
    }

    /// What `manage_addFile` leaves: the name decides; else empty files are
    /// `text/x-unknown-content-type` and all others `application/octet-stream`.
    @Test func newFiles() {
        #expect(ContentTypeGuess.contentType(name: "a.html", body: Array("x".utf8)) == "text/html")
        #expect(ContentTypeGuess.contentType(name: "a.html", body: []) == "text/html")
        #expect(ContentTypeGuess.contentType(name: "notes", body: Array("<html></html>".utf8)) == "application/octet-stream")
        #expect(ContentTypeGuess.contentType(name: "notes", body: []) == "text/x-unknown-content-type")
        #expect(ContentTypeGuess.contentType(name: "file0.bin", body: []) == "application/octet-stream")
    }

    @Test func embeddedTablesArePythons() throws {
        let python = try TestEnvironment.python()
        let result = try runCommand(python, [TestEnvironment.script("peers/guess_content_type.py"), "table"])
        #expect(result.status == 0, "\(result.stderr)")
        let tables = try JSONDecoder().decode([String: [String: String]].self, from: result.stdoutData)
        #expect(tables["strict"] == MimeTypeTable.strict)
        #expect(tables["common"] == MimeTypeTable.common)
        #expect(tables["encodings"] == MimeTypeTable.encodings)
        #expect(tables["suffixes"] == MimeTypeTable.suffixes)
    }
}

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One page of a ListObjectsV2 answer.
struct S3ListPage: Equatable {
    var objects: [(key: String, size: Int)] = []
    var isTruncated = false
    var nextContinuationToken: String?

    static func == (a: S3ListPage, b: S3ListPage) -> Bool {
        a.objects.map(\.key) == b.objects.map(\.key) && a.objects.map(\.size) == b.objects.map(\.size)
            && a.isTruncated == b.isTruncated && a.nextContinuationToken == b.nextContinuationToken
    }
}

/// The `<Error><Code/><Message/></Error>` body S3 answers failures with.
struct S3ErrorBody: Equatable {
    var code: String
    var message: String
}

/// Small readers of the S3 XML documents Sluice needs, on Foundation's `XMLParser`. Each
/// collects the text of the elements it cares about by their path of element names.
enum S3XML {
    /// Parses a ListBucketResult (ListObjectsV2).
    static func listPage(_ data: [UInt8]) throws -> S3ListPage {
        var page = S3ListPage()
        var key: String?
        var size: Int?
        try walk(data, root: "ListBucketResult") { path, text in
            switch path {
            case ["ListBucketResult", "IsTruncated"]:
                page.isTruncated = text == "true"
            case ["ListBucketResult", "NextContinuationToken"]:
                page.nextContinuationToken = text
            case ["ListBucketResult", "Contents", "Key"]:
                key = text
            case ["ListBucketResult", "Contents", "Size"]:
                size = Int(text)
            default:
                break
            }
        } didEnd: { path in
            if path == ["ListBucketResult", "Contents"] {
                if let k = key { page.objects.append((k, size ?? 0)) }
                key = nil
                size = nil
            }
        }
        return page
    }

    /// The code and message of an S3 error body, or nil when `data` is not one.
    static func error(_ data: [UInt8]) -> S3ErrorBody? {
        var code = ""
        var message = ""
        let ok = (try? walk(data, root: "Error") { path, text in
            if path == ["Error", "Code"] { code = text }
            if path == ["Error", "Message"] { message = text }
        }) != nil
        return ok && !code.isEmpty ? S3ErrorBody(code: code, message: message) : nil
    }

    /// The UploadId of an InitiateMultipartUploadResult.
    static func uploadID(_ data: [UInt8]) throws -> String {
        var id: String?
        try walk(data, root: "InitiateMultipartUploadResult") { path, text in
            if path == ["InitiateMultipartUploadResult", "UploadId"] { id = text }
        }
        guard let id, !id.isEmpty else { throw S3XMLError("no UploadId in the answer") }
        return id
    }

    /// The body of CompleteMultipartUpload for parts 1… with these ETags.
    static func completeBody(etags: [String]) -> [UInt8] {
        var xml = "<CompleteMultipartUpload>"
        for (i, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        return Array(xml.utf8)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Parses `data`, calling `text` with each element's path and whole text at its end (after
    /// its children's), and `didEnd` with the path after it. Throws when the document does not
    /// parse or its root element is not `root`.
    static func walk(_ data: [UInt8], root: String, text: (_ path: [String], _ text: String) -> Void,
                     didEnd: (_ path: [String]) -> Void = { _ in }) throws {
        let delegate = Collector()
        let parser = XMLParser(data: Data(data))
        parser.shouldProcessNamespaces = true
        parser.delegate = delegate
        // XMLParser calls back synchronously on this thread; the closures run after parsing.
        guard parser.parse() else {
            throw S3XMLError("malformed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        guard delegate.rootName == root else {
            throw S3XMLError("expected <\(root)>, got <\(delegate.rootName ?? "nothing")>")
        }
        for event in delegate.events {
            if let t = event.text { text(event.path, t) } else { didEnd(event.path) }
        }
    }

    private final class Collector: NSObject, XMLParserDelegate {
        struct Event {
            var path: [String]
            var text: String?
        }
        var events: [Event] = []
        var rootName: String?
        private var path: [String] = []
        private var texts: [String] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            if rootName == nil { rootName = name }
            path.append(name)
            texts.append("")
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !texts.isEmpty { texts[texts.count - 1] += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?,
                    qualifiedName: String?) {
            let text = texts.popLast() ?? ""
            events.append(Event(path: path, text: text))
            events.append(Event(path: path, text: nil))
            path.removeLast()
        }
    }
}

struct S3XMLError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import Foundation
import NIOHTTP1
import SluiceBase

extension S3Store {
    /// Uploads an object above `options.multipartThreshold` in parts of `options.partSize`
    /// (S3 wants every part but the last to be at least 5 MiB): initiate, upload the parts in
    /// order (each retried like any request), complete. Until the completion succeeds readers
    /// see the old object or none, never a part; on any failure the upload is aborted so no
    /// parts are left behind to be billed.
    func multipartPut(_ key: String, _ data: [UInt8]) throws {
        let partSize = max(options.partSize, 5 << 20)
        let initiated = try send(.POST, key: key, query: [("uploads", "")], what: "initiate upload of \(key)")
        guard initiated.status == 200 else { throw failure(initiated, "initiate upload of \(key)") }
        let uploadID: String
        do {
            uploadID = try S3XML.uploadID(initiated.body)
        } catch {
            throw EngineError("S3 initiate upload of \(key) at \(description): \(error)")
        }
        do {
            var etags: [String] = []
            var start = 0
            while start < data.count {
                let end = min(data.count, start + partSize)
                let number = etags.count + 1
                let what = "upload part \(number) of \(key)"
                let r = try send(.PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                 body: Array(data[start..<end]), what: what)
                guard r.status == 200 else { throw failure(r, what) }
                guard let etag = r.headers.first(name: "etag") else {
                    throw EngineError("S3 \(what) at \(description): no ETag in the answer")
                }
                etags.append(etag)
                start = end
            }
            let what = "complete upload of \(key)"
            let r = try send(.POST, key: key, query: [("uploadId", uploadID)],
                             body: S3XML.completeBody(etags: etags), what: what)
            // A completion can fail after its 200 header was sent: the body is then an Error.
            guard r.status == 200, S3XML.error(r.body) == nil else { throw failure(r, what) }
        } catch {
            abortUpload(key, uploadID)
            throw error
        }
    }

    /// Best effort: an upload left behind is only storage, which bucket lifecycle rules expire.
    private func abortUpload(_ key: String, _ uploadID: String) {
        _ = try? send(.DELETE, key: key, query: [("uploadId", uploadID)], what: "abort upload of \(key)")
    }
}

import Foundation
import ReelHTTP

/// One TUS 1.0.0 upload to Supabase's `/storage/v1/upload/resumable`: create,
/// then PATCH 6 MiB chunks; after a failure, ask the server (HEAD) where it
/// stands and send only the rest; when the upload URL is gone, start again.
struct ResumableUpload {
    let storage: SupabaseStorage
    let client: HTTPClient
    let file: String
    let name: String
    let size: Int

    private var configuration: SupabaseStorage.Configuration { storage.configuration }
    private var tus: HTTPClient.Header { HTTPClient.Header("Tus-Resumable", "1.0.0") }

    func run() async throws {
        var location: String?
        var offset = 0
        var attempt = 0
        var created = false
        while true {
            do {
                if location == nil {
                    location = try await create(retrying: created)
                    created = true
                    offset = 0
                }
                while offset < size {
                    offset = try await patch(location!, offset: offset)
                    attempt = 0
                }
                return
            } catch is UploadAlreadyComplete {
                return
            } catch let error as SupabaseError where error.isTransient || error.isGoneUpload {
                attempt += 1
                guard attempt < configuration.retry.attempts else { throw error }
                var retryAfter: Double?
                if case .rateLimited(let seconds, _) = error { retryAfter = seconds }
                try await Task.sleep(for: configuration.retry.delay(after: attempt, retryAfter: retryAfter))
                if let current = location {
                    // Where did the server get to? A vanished upload starts over.
                    if let resumed = try? await serverOffset(current) { offset = resumed } else { location = nil }
                }
            }
        }
    }

    private func create(retrying: Bool) async throws -> String {
        func encoded(_ value: String) -> String { Data(value.utf8).base64EncodedString() }
        let metadata = [("bucketName", configuration.bucket), ("objectName", name), ("contentType", "video/mp4"),
                        ("cacheControl", "3600")].map { "\($0.0) \(encoded($0.1))" }.joined(separator: ",")
        let response = try await storage.send(client, "POST", "upload/resumable", headers: [
            tus, HTTPClient.Header("Upload-Length", String(size)), HTTPClient.Header("Upload-Metadata", metadata),
            HTTPClient.Header("x-upsert", "false"),
        ])
        do {
            try storage.check(response)
        } catch SupabaseError.duplicate(let message) where retrying {
            // Our own earlier upload may have completed before its answer was lost.
            guard try await storage.storedSize(of: name, client: client) == size else { throw SupabaseError.duplicate(message) }
            throw UploadAlreadyComplete()
        }
        guard let location = response.header("Location") else {
            throw SupabaseError.unexpected(status: response.status, message: "no Location for the resumable upload")
        }
        return location.hasPrefix("http") ? location : configuration.url + (location.hasPrefix("/") ? "" : "/") + location
    }

    private func patch(_ location: String, offset: Int) async throws -> Int {
        let length = min(configuration.chunkSize, size - offset)
        let response = try await storage.send(client, "PATCH", "", absoluteURL: location, headers: [
            tus, HTTPClient.Header("Upload-Offset", String(offset)),
            HTTPClient.Header("Content-Type", "application/offset+octet-stream"),
        ], body: .file(path: file, offset: offset, length: length))
        if response.status == 404 || response.status == 410 { throw SupabaseError.uploadGone }
        try storage.check(response)
        guard let next = response.header("Upload-Offset").flatMap(Int.init), next > offset else {
            throw SupabaseError.unexpected(status: response.status, message: "the server did not move the upload offset")
        }
        return next
    }

    private func serverOffset(_ location: String) async throws -> Int {
        let response = try await storage.send(client, "HEAD", "", absoluteURL: location, headers: [tus])
        guard response.status == 200, let offset = response.header("Upload-Offset").flatMap(Int.init) else {
            throw SupabaseError.uploadGone
        }
        return offset
    }
}

/// A retried create found the object already stored by an earlier attempt.
struct UploadAlreadyComplete: Error {}

extension SupabaseError {
    /// The upload URL expired or was removed: a new upload is needed.
    static let uploadGone = SupabaseError.objectNotFound("the resumable upload is gone")
    var isGoneUpload: Bool { self == .uploadGone }
}

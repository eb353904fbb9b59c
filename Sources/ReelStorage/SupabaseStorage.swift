import Foundation
import Logging
import ReelHTTP

/// Stores videos in a Supabase Storage bucket over its REST API, as its server
/// really behaves: errors inside HTTP 400 with the real code in the body,
/// resumable (TUS) uploads for large files, transient failures retried.
public struct SupabaseStorage: VideoStorage {
    public struct Configuration: Sendable {
        /// `SUPABASE_URL`, e.g. `https://abcd.supabase.co`.
        public var url: String
        /// `SUPABASE_KEY`: sent both as the bearer token and as `apikey`.
        public var key: String
        /// `BUCKET_NAME`.
        public var bucket: String
        /// Files above this size go up resumably in chunks; Supabase advises 6 MB.
        public var resumableThreshold = 6_000_000
        /// TUS chunks: Supabase accepts exactly 6 MiB for all but the last.
        public var chunkSize = 6 * 1024 * 1024
        /// How long a signed URL (private bucket) plays.
        public var signedURLSeconds = 7 * 24 * 60 * 60
        /// Whether the bucket is public; nil asks the server once.
        public var publicBucket: Bool?
        public var retry = RetryPolicy()

        public init(url: String, key: String, bucket: String) {
            self.url = String(url.reversed().drop(while: { $0 == "/" }).reversed())
            self.key = key
            self.bucket = bucket
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let bucketVisibility = BucketVisibility()

    public init(configuration: Configuration, logger: Logger = Logger(label: "reel.storage")) {
        self.configuration = configuration
        self.logger = logger
    }

    public func store(file: String, name: String) async throws -> StoredVideo {
        let size = try fileSize(file)
        let client = HTTPClient()
        if size > configuration.resumableThreshold {
            try await ResumableUpload(storage: self, client: client, file: file, name: name, size: size).run()
        } else {
            try await uploadWhole(file: file, name: name, size: size, client: client)
        }
        let (location, expires) = try await playableLocation(of: name, client: client)
        return StoredVideo(name: name, location: location, bytes: size, expires: expires)
    }

    public func playableLocation(of name: String) async throws -> (location: StoredLocation, expires: Date?) {
        try await playableLocation(of: name, client: HTTPClient())
    }

    // MARK: Standard upload

    private func uploadWhole(file: String, name: String, size: Int, client: HTTPClient) async throws {
        try await configuration.retry.run(logger: logger, operation: "upload \(name)") {
            let response = try await send(client, "POST", "object/\(configuration.bucket)/\(name)",
                                          headers: [HTTPClient.Header("Content-Type", "video/mp4"),
                                                    HTTPClient.Header("x-upsert", "false"),
                                                    HTTPClient.Header("cache-control", "max-age=3600")],
                                          body: .file(path: file, offset: 0, length: size))
            do {
                try check(response)
            } catch SupabaseError.duplicate(let message) {
                // An earlier attempt of ours (in this call, or before a crash or a failed
                // signing) may have landed before its answer was lost: names are never reused.
                guard try await storedSize(of: name, client: client) == size else { throw SupabaseError.duplicate(message) }
            }
        }
    }

    /// The size of a stored object, from its info.
    func storedSize(of name: String, client: HTTPClient) async throws -> Int? {
        let response = try await send(client, "GET", "object/info/\(configuration.bucket)/\(name)")
        guard response.status == 200 else { return nil }
        let info = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (info?["size"] as? NSNumber)?.intValue
    }

    // MARK: URLs

    /// A private bucket's signed URLs play for `signedURLSeconds`.
    public var locationLifetime: TimeInterval? { TimeInterval(configuration.signedURLSeconds) }

    /// The public URL of a public bucket; a signed URL, good for `signedURLSeconds`, of a private one.
    private func playableLocation(of name: String, client: HTTPClient) async throws -> (location: StoredLocation, expires: Date?) {
        if try await isPublic(client: client) {
            return (.remote(url: "\(configuration.url)/storage/v1/object/public/\(configuration.bucket)/\(name)"), nil)
        }
        let signedAt = Date()
        var signed = ""
        try await configuration.retry.run(logger: logger, operation: "sign \(name)") {
            let body = Array(#"{"expiresIn": \#(configuration.signedURLSeconds)}"#.utf8)
            let response = try await send(client, "POST", "object/sign/\(configuration.bucket)/\(name)",
                                          headers: [HTTPClient.Header("Content-Type", "application/json")], body: .bytes(body))
            try check(response)
            let answer = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            guard let path = answer?["signedURL"] as? String ?? answer?["signedUrl"] as? String else {
                throw SupabaseError.unexpected(status: response.status, message: "no signedURL in \(response.text)")
            }
            // The answer is relative to the storage API.
            signed = path.hasPrefix("http") ? path : "\(configuration.url)/storage/v1\(path.hasPrefix("/") ? "" : "/")\(path)"
        }
        return (.remote(url: signed), signedAt.addingTimeInterval(Double(configuration.signedURLSeconds)))
    }

    /// `DELETE /storage/v1/object/{bucket}` with the name as a prefix: a name that is
    /// not there is simply absent from the answer, so deleting twice is no error.
    public func delete(name: String) async throws {
        let client = HTTPClient()
        let body = try JSONSerialization.data(withJSONObject: ["prefixes": [name]])
        try await configuration.retry.run(logger: logger, operation: "delete \(name)") {
            let response = try await send(client, "DELETE", "object/\(configuration.bucket)",
                                          headers: [HTTPClient.Header("Content-Type", "application/json")],
                                          body: .bytes([UInt8](body)))
            try check(response)
        }
    }

    /// Asks for the bucket once, without retrying: whether it is public, or why it cannot be used.
    public func checkBucket() async throws -> Bool {
        let isPublic = try await askVisibility(client: HTTPClient())
        return configuration.publicBucket ?? isPublic
    }

    private func isPublic(client: HTTPClient) async throws -> Bool {
        if let known = configuration.publicBucket { return known }
        if let known = await bucketVisibility.value { return known }
        var isPublic = false
        try await configuration.retry.run(logger: logger, operation: "bucket \(configuration.bucket)") {
            isPublic = try await askVisibility(client: client)
        }
        return isPublic
    }

    /// `GET /storage/v1/bucket/{bucket}` once: whether it is public, remembered for the process.
    private func askVisibility(client: HTTPClient) async throws -> Bool {
        let response = try await send(client, "GET", "bucket/\(configuration.bucket)")
        try check(response)
        let answer = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let isPublic = answer?["public"] as? Bool ?? false
        await bucketVisibility.set(isPublic)
        return isPublic
    }

    // MARK: Requests

    var authHeaders: [HTTPClient.Header] {
        [HTTPClient.Header("Authorization", "Bearer \(configuration.key)"), HTTPClient.Header("apikey", configuration.key)]
    }

    /// A request to `{SUPABASE_URL}/storage/v1/{path}` with both auth headers; transport errors become `.network`.
    func send(_ client: HTTPClient, _ method: String, _ path: String, absoluteURL: String? = nil,
              headers: [HTTPClient.Header] = [], body: HTTPClient.Body = .empty) async throws -> HTTPClient.Response {
        let url = absoluteURL ?? "\(configuration.url)/storage/v1/\(path)"
        do {
            return try await client.send(HTTPClient.Request(method: method, url: url, headers: authHeaders + headers, body: body))
        } catch let error as HTTPClient.TransportError {
            throw SupabaseError.network(error.description)
        }
    }

    /// Throws the named error an answer carries; Supabase puts the real code in the body.
    func check(_ response: HTTPClient.Response) throws {
        guard !(200..<300).contains(response.status) else { return }
        throw SupabaseError(response: response)
    }

    private func fileSize(_ path: String) throws -> Int {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw StorageError.unavailable("cannot read \(path)")
        }
        return size
    }
}

/// Whether the bucket is public, learnt once per process.
private actor BucketVisibility {
    var value: Bool?
    func set(_ isPublic: Bool) { value = isPublic }
}

/// Whether a storage error means storage did not answer (network, rate limit, its own
/// server errors) and may later, as opposed to one that answered and refused.
public func isStorageUnreachable(_ error: any Error) -> Bool {
    (error as? SupabaseError)?.isTransient ?? false
}

/// Supabase Storage's answers, by the code in their body rather than the HTTP status.
public enum SupabaseError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicate(String)
    case bucketNotFound(String)
    case objectNotFound(String)
    case payloadTooLarge(String)
    case invalidMime(String)
    case unauthorized(String)
    case rateLimited(retryAfter: Double?, message: String)
    case server(status: Int, message: String)
    case network(String)
    case unexpected(status: Int, message: String)

    init(response: HTTPClient.Response) {
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        let code = (body["statusCode"] as? String).flatMap(Int.init) ?? (body["statusCode"] as? Int) ?? response.status
        let message = [body["error"] as? String, body["message"] as? String].compactMap { $0 }.joined(separator: ": ")
        let text = message.isEmpty ? "HTTP \(response.status) \(response.text.prefix(200))" : message
        switch (response.status, code) {
        case (429, _), (_, 429): self = .rateLimited(retryAfter: response.header("Retry-After").flatMap(Double.init), message: text)
        case (500..., _): self = .server(status: response.status, message: text)
        case (_, 409): self = .duplicate(text)
        case (_, 404) where text.lowercased().contains("bucket"): self = .bucketNotFound(text)
        case (_, 404): self = .objectNotFound(text)
        case (_, 413): self = .payloadTooLarge(text)
        case (_, 415): self = .invalidMime(text)
        case (_, 401), (_, 403): self = .unauthorized(text)
        case (_, 500...): self = .server(status: code, message: text)
        default: self = .unexpected(status: code, message: text)
        }
    }

    /// Worth trying again: the network, rate limits and server errors pass.
    public var isTransient: Bool {
        switch self {
        case .rateLimited, .server, .network: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .duplicate(let message): "the object already exists (\(message))"
        case .bucketNotFound(let message): "bucket not found (\(message))"
        case .objectNotFound(let message): "object not found (\(message))"
        case .payloadTooLarge(let message): "the file is larger than the bucket allows (\(message))"
        case .invalidMime(let message): "the bucket refuses video/mp4 (\(message))"
        case .unauthorized(let message): "unauthorized: check SUPABASE_KEY (\(message))"
        case .rateLimited(_, let message): "rate limited (\(message))"
        case .server(let status, let message): "storage server error \(status) (\(message))"
        case .network(let message): "storage unreachable (\(message))"
        case .unexpected(let status, let message): "unexpected answer \(status) (\(message))"
        }
    }
}

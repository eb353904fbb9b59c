import Foundation
import ReelStorage
import ReelTestSupport
import Testing

/// Supabase Storage through libcurl, against the project's stand-in that answers
/// as the real server does (errors inside HTTP 400, TUS with 6 MiB chunks…).
// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct SupabaseStorageTests {
    let scratch: ScratchFolder
    let standIn: SupabaseStandIn

    init() throws {
        scratch = try ScratchFolder()
        standIn = try SupabaseStandIn()
    }

    func storage(bucket: String = "videos", key: String? = nil, _ change: (inout SupabaseStorage.Configuration) -> Void = { _ in })
        -> SupabaseStorage {
        var configuration = SupabaseStorage.Configuration(url: standIn.url + "/", key: key ?? standIn.key, bucket: bucket)
        configuration.retry = RetryPolicy(attempts: 4, firstDelay: .milliseconds(20), maxDelay: .milliseconds(200))
        change(&configuration)
        return SupabaseStorage(configuration: configuration)
    }

    /// A file of `size` bytes that is not all one value.
    func file(_ size: Int, name: String = "video.mp4") throws -> (path: String, bytes: Data) {
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let path = scratch.file(name)
        try bytes.write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    func download(_ url: String) async throws -> (status: Int, data: Data) {
        try await standIn.request("GET", String(url.dropFirst(standIn.url.count)))
    }

    @Test func aSmallVideoGoesUpWholeAndItsPublicURLPlays() async throws {
        let (path, bytes) = try file(200_000)
        let stored = try await storage().store(file: path, name: "video-1.mp4")
        #expect(stored.location == .remote(url: "\(standIn.url)/storage/v1/object/public/videos/video-1.mp4"))
        #expect(stored.bytes == bytes.count)
        #expect(try await standIn.object("videos/video-1.mp4") == bytes)
        let upload = try #require(try await standIn.requests().first { ($0["method"] as? String) == "POST" })
        let headers = upload["headers"] as? [String: String] ?? [:]
        #expect(headers["content-type"] == "video/mp4")
        #expect(headers["x-upsert"] == "false")
        guard case .remote(let url) = stored.location else { return }
        #expect(try await download(url).data == bytes)
    }

    @Test func aPrivateBucketAnswersASignedURLThatExpires() async throws {
        let (path, bytes) = try file(50_000)
        let stored = try await storage(bucket: "private-videos") { $0.signedURLSeconds = 8 }
            .store(file: path, name: "video-2.mp4")
        guard case .remote(let url) = stored.location else { Issue.record("not remote"); return }
        #expect(url.hasPrefix("\(standIn.url)/storage/v1/object/sign/private-videos/video-2.mp4?token="))
        #expect(try await download(url).data == bytes)
        let publicURL = try await download("\(standIn.url)/storage/v1/object/public/private-videos/video-2.mp4")
        #expect(publicURL.status != 200)
        // Its eight-second life (long enough to fetch it once on a loaded machine) ends: wait for that, not a fixed time.
        let deadline = ContinuousClock.now + .seconds(30)
        var status = try await download(url).status
        while status == 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            status = try await download(url).status
        }
        #expect(status != 200, "the signed URL expired")
    }

    @Test func aLargeVideoGoesUpInSixMebibyteChunks() async throws {
        let size = 14 * 1024 * 1024 + 12_345
        let (path, bytes) = try file(size)
        _ = try await storage().store(file: path, name: "video-3.mp4")
        #expect(try await standIn.object("videos/video-3.mp4") == bytes)
        let patches = try await standIn.requests().filter { ($0["method"] as? String) == "PATCH" }
        #expect(patches.map { $0["bytes"] as? Int } == [6 * 1024 * 1024, 6 * 1024 * 1024, size - 12 * 1024 * 1024])
        #expect(try await standIn.requests().contains { ($0["method"] as? String) == "POST" && ($0["path"] as? String)?.hasSuffix("/upload/resumable") == true })
    }

    @Test func aResumedUploadSendsOnlyTheRest() async throws {
        let size = 13 * 1024 * 1024
        let (path, bytes) = try file(size)
        // The second chunk's connection drops after 1 MiB; the client asks the
        // server where it stands (HEAD) and sends from there.
        try await standIn.faults([["drop": 1, "after_bytes": 1024 * 1024, "method": "PATCH", "skip": 1]])
        _ = try await storage().store(file: path, name: "video-4.mp4")
        #expect(try await standIn.object("videos/video-4.mp4") == bytes)
        let requests = try await standIn.requests()
        let patches = requests.filter { ($0["method"] as? String) == "PATCH" }
        #expect(patches.count == 4, "chunk 1, chunk 2 dropped, chunk 2 again, chunk 3")
        let offsets = patches.compactMap { ($0["headers"] as? [String: String])?["upload-offset"] }
        #expect(offsets == ["0", "6291456", "6291456", "12582912"])
        #expect(requests.filter { ($0["method"] as? String) == "POST" }.count == 1, "the same upload went on")
        #expect(requests.contains { ($0["method"] as? String) == "HEAD" && $0["status"] as? Int == 200 })
    }

    @Test func anExpiredUploadURLStartsANewUpload() async throws {
        let size = 7 * 1024 * 1024
        let (path, bytes) = try file(size)
        // After the first chunk the upload expires: HEAD and PATCH answer 404.
        try await standIn.faults([["drop": 1, "after_bytes": 0, "method": "PATCH", "skip": 1]])
        // Uploads live 2 s; the client waits 3 s or more before trying again.
        try await standIn.config(["tus_expiry_seconds": 2])
        _ = try await storage { $0.retry = RetryPolicy(attempts: 4, firstDelay: .seconds(6), maxDelay: .seconds(6)) }
            .store(file: path, name: "video-5.mp4")
        #expect(try await standIn.object("videos/video-5.mp4") == bytes)
        let requests = try await standIn.requests()
        #expect(requests.contains { ($0["method"] as? String) == "HEAD" && $0["status"] as? Int == 404 }, "the old upload is gone")
        // A new upload began (on a loaded machine it may itself expire and begin once more).
        #expect(requests.filter { ($0["method"] as? String) == "POST" }.count >= 2)
    }

    static let refusals: [(String, String)] = [
        ("bucket", "bucketNotFound"), ("key", "unauthorized"), ("duplicate", "duplicate"),
        ("mime", "invalidMime"), ("size", "payloadTooLarge"),
    ]

    @Test(arguments: refusals)
    func refusalsGetTheirNamedErrorWithoutRetrying(cause: String, expected: String) async throws {
        let (path, _) = try file(10_000)
        var storage = storage()
        switch cause {
        case "bucket": storage = self.storage(bucket: "no-such-bucket")
        case "key": storage = self.storage(key: "wrong-key")
        case "duplicate":  // another video under the name
            let (other, _) = try file(11_000, name: "other.mp4")
            _ = try await storage.store(file: other, name: "video-6.mp4")
        case "mime":
            try await standIn.control("POST", "buckets", body: ["id": "images", "public": true, "allowed_mime_types": ["image/png"]])
            storage = self.storage(bucket: "images")
        default: try await standIn.config(["max_object_bytes": 5000])
        }
        try await standIn.control("DELETE", "requests")
        do {
            _ = try await storage.store(file: path, name: "video-6.mp4")
            Issue.record("\(cause): stored")
        } catch let error as SupabaseError {
            let name = "\(error)"
            switch (expected, error) {
            case ("bucketNotFound", .bucketNotFound), ("unauthorized", .unauthorized), ("duplicate", .duplicate),
                 ("invalidMime", .invalidMime), ("payloadTooLarge", .payloadTooLarge): break
            default: Issue.record("\(cause) gave \(name), expected \(expected)")
            }
            #expect(!error.isTransient)
        }
        let uploads = try await standIn.requests().filter { ($0["method"] as? String) == "POST" }
        #expect(uploads.count == 1, "a refusal is not retried")
    }

    @Test func transientFailuresAreRetried() async throws {
        let (path, bytes) = try file(20_000)
        try await standIn.faults([["fail": 2, "status": 503], ["fail": 1, "status": 429, "retry_after": 1]])
        let started = ContinuousClock.now
        // Waits are capped at maxDelay, Retry-After's too: let the cap be above its second.
        _ = try await storage { $0.retry.maxDelay = .seconds(2) }.store(file: path, name: "video-7.mp4")
        #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After was honoured")
        #expect(try await standIn.object("videos/video-7.mp4") == bytes)
        #expect(try await standIn.requests().filter { ($0["method"] as? String) == "POST" }.count == 4)
    }

    @Test func aDuplicateOfOurOwnEarlierAttemptCountsAsStored() async throws {
        let (path, bytes) = try file(30_000)
        // An earlier attempt landed, but its answer was lost (here: the object is there, the next answer fails).
        _ = try await storage().store(file: path, name: "video-8.mp4")
        try await standIn.faults([["fail": 1, "status": 502, "method": "POST"]])
        _ = try await storage().store(file: path, name: "video-8.mp4")
        #expect(try await standIn.object("videos/video-8.mp4") == bytes)
        // And at the first attempt: stored before a crash, or before signing its URL failed.
        let again = try await storage().store(file: path, name: "video-8.mp4")
        #expect(again.bytes == bytes.count)
        // A different file under that name is a real duplicate.
        let (other, _) = try file(31_000, name: "other.mp4")
        try await standIn.faults([["fail": 1, "status": 502, "method": "POST"]])
        await #expect(throws: SupabaseError.self) { _ = try await storage().store(file: other, name: "video-8.mp4") }
    }

    @Test func storageDownIsANetworkOrServerErrorAfterTheRetries() async throws {
        let (path, _) = try file(10_000)
        try await standIn.faults([["down": true]])
        do {
            _ = try await storage().store(file: path, name: "video-9.mp4")
            Issue.record("stored while down")
        } catch let error as SupabaseError {
            #expect(error.isTransient)
        }
        #expect(try await standIn.requests().count == 4, "all attempts were made")
        var configuration = storage().configuration
        configuration.url = "http://127.0.0.1:9"
        let unreachable = SupabaseStorage(configuration: configuration)
        do {
            _ = try await unreachable.store(file: path, name: "video-9.mp4")
        } catch SupabaseError.network(let message) {
            #expect(!message.isEmpty)
        }
    }
}

import Foundation
import Logging
import Metrics
import ReelStorage
import ReelTestSupport
import Testing
@testable import ReelServer

/// Retention's choices and its removal's effects over a real catalog folder and
/// local storage, with entries made old by their `created` date, not by waiting.
@Suite struct RetentionTests {
    let scratch: ScratchFolder
    let list: RecordingList
    let storage: LocalDiskStorage
    let outbox: WebhookOutbox
    let logger = Logger(label: "reel-test")
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    init() async throws {
        scratch = try ScratchFolder()
        try FileManager.default.createDirectory(atPath: scratch.file("recordings"), withIntermediateDirectories: true)
        let database = try await SQLiteCatalogDatabase(path: scratch.file("recordings/catalog.sqlite"), logger: logger)
        try await CatalogSchema.migrate(database, logger: logger)
        outbox = WebhookOutbox(database: database, baseURL: "http://cams.example.com", logger: logger)
        list = RecordingList(database: database, outbox: outbox, logger: logger)
        storage = try LocalDiskStorage(folder: scratch.file("videos"))
    }

    /// A recording `daysOld` days old in `state`; a stored one has a video file of `bytes`.
    @discardableResult
    func entry(_ id: String, daysOld: Double, bytes: Int = 1000, state: RecordingEntry.State = .stored) async throws -> RecordingEntry {
        var entry = RecordingEntry(id: id, created: now.addingTimeInterval(-daysOld * 86400), state: state)
        entry.bytes = bytes
        if state == .stored {
            entry.name = "video-\(id).mp4"
            entry.location = .servedLocally(path: "videos/video-\(id).mp4")
            try Data(count: bytes).write(to: URL(fileURLWithPath: scratch.file("videos/video-\(id).mp4")))
        }
        try await list.add(entry)
        return entry
    }

    func retention(days: Double? = nil, bytes: Int? = nil, storage: (any VideoStorage)? = nil) -> Retention {
        let removal = RecordingRemoval(recordings: list, storage: storage ?? self.storage,
                                       layout: SpoolLayout(folder: scratch.file("spool")), metrics: ServerMetrics(),
                                       logger: logger)
        return Retention(rules: RetentionRules(keepDays: days, keepBytes: bytes), recordings: list, removal: removal,
                         sharedDisk: nil, passes: Counter(label: "passes"), logger: logger)
    }

    @Test func offDeletesNothing() async throws {
        try await entry("a", daysOld: 400)
        #expect(await retention().apply(now: now) == 0)
        #expect(try await list.entry("a") != nil)
    }

    @Test func ageAndSizeTakeTheOldestStoredOnlyAndSayWhy() async throws {
        try await entry("old", daysOld: 40, bytes: 500)
        try await entry("older-pending", daysOld: 50, state: .pending)
        try await entry("older-failed", daysOld: 60, state: .failed)
        try await entry("in-progress", daysOld: 70, state: .recording)
        try await entry("middle", daysOld: 10, bytes: 3000)
        try await entry("recent", daysOld: 5, bytes: 3000)
        try await entry("new", daysOld: 1, bytes: 3000)
        let doomed = try await retention(days: 30, bytes: 6500).doomed(now: now)
        #expect(doomed.map(\.0.id) == ["old", "middle"])
        #expect(doomed.map(\.1) == [.age, .size])
    }

    @Test func deletingRemovesVideoThumbnailAndEntryAndTellsTheWebhook() async throws {
        try await entry("gone", daysOld: 40, bytes: 700)
        try await entry("kept", daysOld: 2)
        #expect(await list.saveThumbnail("gone") { [0xFF, 0xD8, 0xFF, 0xD9] })
        #expect(try await list.thumbnail("gone") == [0xFF, 0xD8, 0xFF, 0xD9])
        #expect(await retention(days: 30).apply(now: now) == 1)
        #expect(try await list.entry("gone") == nil)
        #expect(try await list.entry("kept") != nil)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("videos/video-gone.mp4")))
        #expect(try await list.thumbnail("gone") == nil)
        let event = try #require(try await outbox.oldest())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(event.body)) as? [String: Any])
        #expect(body["event"] as? String == "recording.deleted" && body["id"] as? String == "gone")
        #expect(body["rule"] as? String == "age" && body["bytes"] as? Int == 700)
    }

    @Test func aRecordingStorageRefusesIsSkippedAndTheRestStillGo() async throws {
        try await entry("refused", daysOld: 50)
        try await entry("next", daysOld: 40)
        let refusing = RefusesOne(inner: storage, refused: "video-refused.mp4")
        #expect(await retention(days: 30, storage: refusing).apply(now: now) == 1)
        #expect(try await list.entry("next") == nil)
        let kept = try #require(try await list.entry("refused"))
        #expect(kept.state == .stored && kept.lastError?.hasPrefix("deleting failed: unauthorized") == true)
    }

    @Test func aRenewalAfterADeletionMakesNoEntry() async throws {
        try await entry("gone", daysOld: 1)
        await list.forget("gone")
        let now = now
        #expect(await !list.update("gone") { $0.locationExpires = now })
        #expect(try await list.entry("gone") == nil)
    }
}

/// Local storage that refuses to delete one object, as a bucket policy can.
struct RefusesOne: VideoStorage {
    let inner: LocalDiskStorage
    let refused: String

    func store(file: String, name: String) async throws -> StoredVideo { try await inner.store(file: file, name: name) }

    func playableLocation(of name: String) async throws -> (location: StoredLocation, expires: Date?) {
        try await inner.playableLocation(of: name)
    }

    func delete(name: String) async throws {
        if name == refused { throw SupabaseError.unauthorized("new row violates row-level security policy") }
        try await inner.delete(name: name)
    }
}

import Foundation
import Logging
import ReelTestSupport
import Testing
@testable import ReelServer

/// The webhook's events in a real SQLite catalog: written with their change, numbered once,
/// imported from an earlier version's files, kept in memory while the database refuses them,
/// delivered by one server at a time.
@Suite(.timeLimit(.minutes(1))) struct WebhookOutboxTests {
    let scratch: ScratchFolder
    let logger = Logger(label: "reel-test")

    init() throws {
        scratch = try ScratchFolder()
        try FileManager.default.createDirectory(atPath: scratch.file("recordings"), withIntermediateDirectories: true)
    }

    func open() async throws -> (RecordingList, WebhookOutbox) {
        let database = try await SQLiteCatalogDatabase(path: scratch.file("recordings/catalog.sqlite"), logger: logger)
        try await CatalogSchema.migrate(database, logger: logger)
        let outbox = WebhookOutbox(database: database, baseURL: "http://cams.example.com", logger: logger)
        return (RecordingList(database: database, outbox: outbox, logger: logger), outbox)
    }

    func fields(_ body: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }

    @Test func anEventIsWrittenWithItsChangeAndNumbersAreNeverGivenTwice() async throws {
        let (list, outbox) = try await open()
        try await list.add(RecordingEntry(id: "a", created: Date(timeIntervalSince1970: 1_800_000_000), state: .recording))
        #expect(try await outbox.oldest() == nil, "nothing to tell while it records")
        await list.update("a") {
            $0.state = .stored
            $0.frames = 27
            $0.location = .servedLocally(path: "videos/video-a.mp4")
        }
        let entry = try #require(try await list.entry("a"))
        await list.forget("a", announcing: outbox.event(.deleted, entry, rule: .request))
        #expect(try await outbox.count() == 2)

        let stored = try #require(try await outbox.oldest())
        let body = try fields(stored.body)
        #expect(stored.sequence == 1 && body["sequence"] as? Int == 1 && body["event"] as? String == "recording.stored")
        #expect(body["video url"] as? String == "http://cams.example.com/videos/video-a.mp4" && body["frames"] as? Int == 27)
        #expect(try await outbox.oldest()?.body == stored.body, "the same bytes each time it is sent")
        try await outbox.remove(stored.sequence)
        let deleted = try #require(try await outbox.oldest())
        #expect(deleted.sequence == 2)
        #expect(try fields(deleted.body)["rule"] as? String == "request")
        try await outbox.remove(deleted.sequence)
        await list.database.close()

        // Every event taken, the catalog opened again: the next number goes on.
        let (again, reopened) = try await open()
        try await again.add(RecordingEntry(id: "b", created: Date(timeIntervalSince1970: 1_800_000_100), state: .recording))
        await again.update("b") { $0.state = .failed; $0.lastError = "encoder failed" }
        let failed = try #require(try await reopened.oldest())
        #expect(failed.sequence == 3)
        #expect(try fields(failed.body)["last error"] as? String == "encoder failed")
        await again.database.close()
    }

    @Test func anEarlierVersionsEventFilesAreImportedOnceWithTheirNumbers() async throws {
        let folder = scratch.file("recordings/outbox")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for sequence in [5, 7] {
            let event = #"{"bytes":10,"event":"recording.stored","id":"r\#(sequence)","sequence":\#(sequence)}"#
            try Data(event.utf8).write(to: URL(fileURLWithPath: folder + String(format: "/%012d.json", sequence)))
        }
        try Data("9".utf8).write(to: URL(fileURLWithPath: folder + "/sequence"))
        let (list, outbox) = try await open()
        try await outbox.importFiles(from: folder, backup: scratch.file("recordings/json-backup"))
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(FileManager.default.fileExists(atPath: scratch.file("recordings/json-backup/outbox/000000000005.json")))
        let first = try #require(try await outbox.oldest())
        #expect(String(decoding: first.body, as: UTF8.self) == #"{"bytes":10,"event":"recording.stored","id":"r5","sequence":5}"#)
        try await outbox.remove(first.sequence)
        try await outbox.remove(7)
        // The next number goes on from the last one the files gave.
        try await list.add(RecordingEntry(id: "c", created: Date(timeIntervalSince1970: 1_800_000_000), state: .recording))
        await list.update("c") { $0.state = .failed }
        #expect(try await outbox.oldest()?.sequence == 10)
        // A second run finds nothing to import.
        try await outbox.importFiles(from: folder, backup: scratch.file("recordings/json-backup"))
        #expect(try await outbox.count() == 1)
        await list.database.close()
    }

    @Test func anEventTheDatabaseRefusesIsKeptInMemoryAndWrittenWithTheNextChange() async throws {
        let (list, outbox) = try await open()
        try await list.add(RecordingEntry(id: "a", created: Date(timeIntervalSince1970: 1_800_000_000), state: .recording))
        // The file may not grow: as on a full disk, SQLite answers SQLITE_FULL to what needs a new page.
        try await list.database.withSQL { sql in try await sql.raw("PRAGMA max_page_count = 1").run() }
        let long = String(repeating: "x", count: 64 * 1024)
        await list.update("a") { $0.state = .failed; $0.lastError = long }
        #expect(try await outbox.count() == 1, "kept in memory")
        #expect(try await outbox.oldest() == nil, "not in the catalog yet")
        try await list.database.withSQL { sql in try await sql.raw("PRAGMA max_page_count = 1073741823").run() }
        try await list.add(RecordingEntry(id: "b", created: Date(timeIntervalSince1970: 1_800_000_100), state: .recording))
        await list.update("b") { $0.state = .failed; $0.lastError = "short" }
        let first = try #require(try await outbox.oldest())
        #expect(try fields(first.body)["id"] as? String == "a", "in the order they happened")
        #expect(try fields(first.body)["last error"] as? String == long)
        #expect(try await outbox.count() == 2)
        await list.database.close()
    }

    @Test func oneServerAtATimeDeliversUntilItsHoldRunsOutOrIsLetGo() async throws {
        let (list, outbox) = try await open()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try await outbox.holdDelivery(as: "cams-a", for: 30, now: now))
        #expect(try await !outbox.holdDelivery(as: "cams-b", for: 30, now: now.addingTimeInterval(10)))
        #expect(try await outbox.holdDelivery(as: "cams-a", for: 30, now: now.addingTimeInterval(20)), "renewed")
        #expect(try await !outbox.holdDelivery(as: "cams-b", for: 30, now: now.addingTimeInterval(45)))
        #expect(try await outbox.holdDelivery(as: "cams-b", for: 30, now: now.addingTimeInterval(51)), "run out")
        await outbox.releaseDelivery(as: "cams-a")
        #expect(try await !outbox.holdDelivery(as: "cams-a", for: 30, now: now.addingTimeInterval(52)), "only its holder lets go")
        await outbox.releaseDelivery(as: "cams-b")
        #expect(try await outbox.holdDelivery(as: "cams-a", for: 30, now: now.addingTimeInterval(53)))
        await list.database.close()
    }
}

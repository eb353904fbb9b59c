import Foundation
import Logging
import ReelStorage
import ReelTestSupport
import SQLKit
import Testing
@testable import ReelServer

/// The catalog over a real SQLite file: what is saved comes back, pages follow
/// their cursor, migrations run once, an older version's JSON folder is
/// imported once, and a change the database refuses is not lost.
@Suite(.timeLimit(.minutes(3))) struct CatalogTests {
    let scratch: ScratchFolder
    let logger = Logger(label: "reel-test")
    init() throws { scratch = try ScratchFolder() }

    var path: String { scratch.file("catalog.sqlite") }

    func openList() async throws -> RecordingList {
        let database = try await SQLiteCatalogDatabase(path: path, logger: logger)
        try await CatalogSchema.migrate(database, logger: logger)
        return RecordingList(database: database, logger: logger)
    }

    func sample(_ id: String, createdMs: Int64, state: RecordingEntry.State = .stored) -> RecordingEntry {
        var entry = RecordingEntry(id: id, created: Timestamp.date(milliseconds: createdMs), state: state)
        entry.frames = 81
        entry.duration = 3.0
        entry.bytes = 123_456_789_012
        entry.name = "video-\(id).mp4"
        entry.location = .remote(url: "https://example.supabase.co/storage/v1/object/sign/b/video-\(id).mp4?token=t'x")
        entry.locationExpires = Timestamp.date(milliseconds: createdMs + 3_600_000)
        entry.attempts = 3
        entry.lastError = "storage unreachable: connection refused"
        entry.nextAttempt = Timestamp.date(milliseconds: createdMs + 2000)
        entry.hasThumbnail = true
        entry.preset = "superfast"
        return entry
    }

    @Test func everyFieldComesBackAsSavedAfterAReopen() async throws {
        let remote = sample("a", createdMs: 1_795_620_452_801)
        var local = RecordingEntry(id: "b", created: Timestamp.date(milliseconds: 1_795_620_452_999), state: .recording)
        local.location = .servedLocally(path: "videos/video-b.mp4")
        do {
            let list = try await openList()
            try await list.add(remote)
            try await list.add(local)
            #expect(try await list.entry("a") == remote)
            await list.database.close()
        }
        let list = try await openList()
        #expect(try await list.entry("a") == remote)
        #expect(try await list.entry("b") == local)
        #expect(try await list.entry("c") == nil)
        let totals = try await list.storedTotals()
        #expect(totals.count == 1 && totals.bytes == 123_456_789_012)
        #expect(try await list.entries(in: [.recording]).map(\.id) == ["b"])
    }

    @Test func pagesFollowTheirCursorNewestFirstWithTiesBrokenByTheID() async throws {
        let list = try await openList()
        // Four recordings per millisecond: the cursor must break ties the way the order does.
        let entries = (0..<103).map { sample(String(format: "id-%03d", ($0 * 37) % 103), createdMs: 1_700_000_000_000 + Int64($0 / 4)) }
        for entry in entries { try await list.add(entry) }
        var seen: [String] = [], cursor: String?
        repeat {
            let page = try await list.page(limit: 10, before: cursor)
            #expect(page.total == 103)
            #expect(page.entries.count == (page.next == nil ? 3 : 10))
            seen += page.entries.map(\.id)
            cursor = page.next
        } while cursor != nil
        #expect(seen == entries.sorted(by: RecordingEntry.newerFirst).map(\.id))
        do {
            _ = try await list.page(limit: 10, before: "nope")
            Issue.record("an unknown cursor was taken")
        } catch RecordingError.unknownCursor(let id) {
            #expect(id == "nope")
        }
    }

    @Test func migrationsRunOnceAndANewerSchemaIsRefusedByName() async throws {
        let database = try await SQLiteCatalogDatabase(path: path, logger: logger)
        #expect(try await CatalogSchema.migrate(database, logger: logger) == 0)
        #expect(try await CatalogSchema.migrate(database, logger: logger) == CatalogSchema.latestVersion)
        try await database.withSQL { sql in
            try await sql.raw("INSERT INTO reel_migrations (version, applied_ms) VALUES (99, 0)").run()
        }
        do {
            try await CatalogSchema.migrate(database, logger: logger)
            Issue.record("a newer schema was taken")
        } catch let error as CatalogDatabaseError {
            #expect(error.description == "catalog database \(path): its schema is version 99, newer than this reel knows (\(CatalogSchema.latestVersion)); run a newer reel")
        }
        await database.close()
    }

    @Test func aCatalogOfThePreviousSchemaIsMigratedWithItsEntries() async throws {
        let database = try await SQLiteCatalogDatabase(path: path, logger: logger)
        try await CatalogSchema.migrate(database, to: 1, logger: logger)
        try await database.withSQL { sql in
            try await sql.raw("""
                INSERT INTO recordings (id, created_ms, state, frames, duration, bytes, name, has_thumbnail)
                VALUES ('before', 1700000000123, 'stored', 54, 2.0, 5000, 'video-1.mp4', TRUE)
                """).run()
        }
        #expect(try await CatalogSchema.migrate(database, logger: logger) == 1)
        let list = RecordingList(database: database, logger: logger)
        let entry = try #require(try await list.entry("before"))
        #expect(entry.state == .stored && entry.frames == 54 && entry.hasThumbnail && entry.instance == nil)
        #expect(entry.created == Timestamp.date(milliseconds: 1_700_000_000_123))
        var changed = entry
        changed.instance = "cams-2"
        try await list.add(sample("after", createdMs: 1_700_000_001_000))
        #expect(try await list.entry("after")?.instance == nil)
        await list.update("before") { $0.instance = "cams-2" }
        #expect(try await list.entry("before") == changed)
        await database.close()
    }

    @Test func anIdIsAddedOnceAndASecondAddIsRefused() async throws {
        let list = try await openList()
        try await list.add(sample("taken", createdMs: 1_000))
        do {
            try await list.add(sample("taken", createdMs: 2_000))
            Issue.record("a second add of the same id was taken")
        } catch RecordingError.idTaken(let id) {
            #expect(id == "taken")
        }
        #expect(try await list.entry("taken")?.created == Timestamp.date(milliseconds: 1_000), "the first stays")
    }

    @Test func anOlderVersionsEntriesAreImportedOnceAndKeptAsABackup() async throws {
        let folder = scratch.file("recordings")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // The files as the JSON catalog wrote them.
        try """
            {
              "attempts" : 1, "bytes" : 5000, "created" : "2026-11-25T15:41:15.123Z", "duration" : 2,
              "frames" : 54, "hasThumbnail" : true, "id" : "old-stored", "location" : { "servedLocally" : { "path" : "videos/video-1.mp4" } },
              "name" : "video-1.mp4", "preset" : "veryfast", "state" : "stored"
            }
            """.write(toFile: folder + "/old-stored.json", atomically: true, encoding: .utf8)
        try Data([0xFF, 0xD8, 0xFF, 0xD9]).write(to: URL(fileURLWithPath: folder + "/old-stored.jpg"))
        try """
            {"attempts": 4, "bytes": 0, "created": "2026-11-24T10:00:00.000Z", "duration": 0, "frames": 3, "hasThumbnail": false,
             "id": "old-pending", "lastError": "storage unreachable", "name": "video-2.mp4", "nextAttempt": "2026-11-24T10:01:00.000Z",
             "state": "pending"}
            """.write(toFile: folder + "/old-pending.json", atomically: true, encoding: .utf8)
        try "{ not json".write(toFile: folder + "/garbage.json", atomically: true, encoding: .utf8)

        let list = try await openList()
        let importer = JSONCatalogImport(folder: folder, logger: logger)
        #expect(try await importer.run(into: list) == 2)
        let stored = try #require(try await list.entry("old-stored"))
        #expect(stored.state == .stored && stored.frames == 54 && stored.bytes == 5000 && stored.preset == "veryfast")
        #expect(stored.created == Timestamp.date("2026-11-25T15:41:15.123Z"))
        #expect(stored.location == .servedLocally(path: "videos/video-1.mp4"))
        #expect(try await list.thumbnail("old-stored") == [0xFF, 0xD8, 0xFF, 0xD9])
        let pending = try #require(try await list.entry("old-pending"))
        #expect(pending.attempts == 4 && pending.lastError == "storage unreachable" && !pending.hasThumbnail)
        #expect(try await list.page(limit: 10, before: nil).entries.map(\.id) == ["old-stored", "old-pending"])
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix("catalog.sqlite") }
        #expect(files == ["json-backup"], "every file moved aside, the unreadable one too")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/json-backup").sorted()
            == ["garbage.json", "old-pending.json", "old-stored.jpg", "old-stored.json"])

        // Nothing to import the second time; and a file put back (a crash before the move) never overwrites.
        #expect(try await importer.run(into: list) == 0)
        await list.update("old-stored") { $0.frames = 55 }
        try FileManager.default.copyItem(atPath: folder + "/json-backup/old-stored.json", toPath: folder + "/old-stored.json")
        #expect(try await importer.run(into: list) == 0)
        #expect(try await list.entry("old-stored")?.frames == 55)
    }

    @Test func aChangeTheDatabaseRefusesIsKeptInMemoryAndSavedWithTheNext() async throws {
        let list = try await openList()
        try await list.add(sample("first", createdMs: 1_000))
        // The file may not grow: as on a full disk, SQLite answers SQLITE_FULL to what needs a new page.
        try await list.database.withSQL { sql in try await sql.raw("PRAGMA max_page_count = 1").run() }
        let long = String(repeating: "x", count: 64 * 1024)
        await list.update("first") { $0.state = .failed; $0.lastError = long }
        #expect(try await list.entry("first")?.lastError == long, "answered from memory")
        #expect(try await list.entries(in: [.failed]).map(\.id) == ["first"])
        #expect(try await list.page(limit: 5, before: nil).entries.first?.state == .failed)

        do {
            let other = try await openList()
            #expect(try await other.entry("first")?.state == .stored, "not yet in the file")
            await other.database.close()
        }
        try await list.database.withSQL { sql in try await sql.raw("PRAGMA max_page_count = 1073741823").run() }
        try await list.add(sample("second", createdMs: 2_000))
        let other = try await openList()
        #expect(try await other.entry("first")?.lastError == long, "saved with the next change")
        #expect(try await other.entry("second") != nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct InstanceRegistryTests {
    @Test func aServerIsLostOnceItsHeartbeatIsOlderThanTheTimeoutOrItIsGone() async throws {
        let scratch = try ScratchFolder()
        let logger = Logger(label: "reel-test")
        let database = try await SQLiteCatalogDatabase(path: scratch.file("catalog.sqlite"), logger: logger)
        try await CatalogSchema.migrate(database, logger: logger)
        let registry = InstanceRegistry(database: database, id: "cams-a", advertiseURL: "http://10.0.0.1:3001", timeout: 15,
                                        logger: logger)
        #expect(registry.interval == .seconds(3))
        let then = Date(timeIntervalSince1970: 1_800_000_000)
        try await registry.record(now: then)
        let seen = try #require(try await registry.instance("cams-a"))
        #expect(seen == InstanceRegistry.Instance(id: "cams-a", advertiseURL: "http://10.0.0.1:3001", heartbeat: then, state: .up))
        #expect(!registry.isLost(seen, now: then.addingTimeInterval(15)))
        #expect(registry.isLost(seen, now: then.addingTimeInterval(15.5)))
        try await registry.record(.gone, now: then)
        #expect(registry.isLost(try await registry.instance("cams-a"), now: then))
        #expect(try await registry.instance("cams-b") == nil)
        #expect(registry.isLost(nil))
        await database.close()
    }
}

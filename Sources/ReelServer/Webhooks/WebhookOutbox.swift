import Foundation
import Logging
import ReelErrors
import ReelStorage
import SQLKit
import Synchronization

/// What a webhook receiver is told.
enum WebhookEventKind: String, Sendable {
    case stored = "recording.stored"
    case failed = "recording.failed"
    case deleted = "recording.deleted"
}

/// One event, before the catalog numbers it: its JSON body without `sequence`.
struct WebhookEvent: Sendable, Equatable {
    var recordingID: String
    var body: String
}

/// Events waiting for the webhook receiver, in the catalog (`webhook_events`): written in the
/// transaction that makes the change they tell of, numbered by the database in the order they
/// happened (numbers are never given twice), kept until the receiver takes them. Every server
/// sharing the catalog may deliver them; one at a time holds the delivery (`webhook_delivery`,
/// a lease it renews), so they go out in order. An event whose change the database could not
/// take now is kept in memory and written with the next change that goes through.
final class WebhookOutbox: Sendable {
    let database: any CatalogDatabase
    /// The base of local videos' URLs (`--public-url`, else this host and port).
    private let baseURL: String
    private let logger: Logger
    /// Events the database has not taken yet, oldest first.
    private let unwritten = Mutex<[WebhookEvent]>([])

    init(database: any CatalogDatabase, baseURL: String, logger: Logger) {
        self.database = database
        self.baseURL = baseURL
        self.logger = logger
    }

    /// The event for `entry`; `rule` says which rule deleted it.
    func event(_ kind: WebhookEventKind, _ entry: RecordingEntry, rule: DeletionReason? = nil, now: Date = Date()) -> WebhookEvent {
        var fields: [String: Any] = [
            "event": kind.rawValue,
            "id": entry.id,
            "created": Timestamp.text(entry.created),
            "time": Timestamp.text(now),
            "frames": entry.frames,
            "duration": (entry.duration * 1000).rounded() / 1000,
            "bytes": entry.bytes,
        ]
        if kind == .stored, let location = entry.location { fields["video url"] = url(of: location) }
        if kind == .failed { fields["last error"] = entry.lastError ?? "" }
        if let rule { fields["rule"] = rule.rawValue }
        return WebhookEvent(recordingID: entry.id, body: Self.json(fields))
    }

    /// Writes `events` in the caller's transaction, after those still waiting in memory; returns
    /// those it wrote from memory, for `written` once the transaction went through.
    @discardableResult
    func write(_ events: [WebhookEvent], _ sql: any SQLDatabase) async throws -> [WebhookEvent] {
        let waiting = unwritten.withLock { $0 }
        for event in waiting + events {
            try await sql.raw("""
                INSERT INTO webhook_events (recording_id, body) VALUES (\(bind: event.recordingID), \(bind: event.body))
                """).run()
        }
        return waiting
    }

    /// The caller's transaction went through: the events `write` took from memory are in the catalog.
    func written(_ waiting: [WebhookEvent]) {
        unwritten.withLock { if $0.starts(with: waiting) { $0.removeFirst(waiting.count) } }
    }

    /// Writes what waits in memory, in a transaction of its own: on the janitor's tick.
    func flush() async {
        guard !unwritten.withLock({ $0.isEmpty }) else { return }
        if let waiting = try? await database.transaction({ sql in try await self.write([], sql) }) { written(waiting) }
    }

    /// The caller's transaction did not: `events` wait in memory for the next one.
    func keep(_ events: [WebhookEvent]) {
        guard !events.isEmpty else { return }
        unwritten.withLock { $0 += events }
        logger.error("cannot keep a webhook event in the catalog; it is kept in memory and written with the next change",
                     metadata: ["recording.ids": "\(events.map(\.recordingID).joined(separator: ","))",
                                "database": "\(database.location)"])
    }

    /// The oldest event waiting: its number and the body to send (with `sequence`).
    func oldest() async throws -> (sequence: Int, body: [UInt8])? {
        guard let row = try await database.withSQL({ sql in
            try await sql.raw("SELECT sequence, body FROM webhook_events ORDER BY sequence LIMIT 1").first()
        }) else { return nil }
        let sequence = try row.decode(column: "sequence", as: Int.self)
        let text = try row.decode(column: "body", as: String.self)
        var fields = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        fields["sequence"] = sequence
        return (sequence, Array(Self.json(fields).utf8))
    }

    /// The receiver took the event.
    func remove(_ sequence: Int) async throws {
        try await database.withSQL { sql in
            try await sql.raw("DELETE FROM webhook_events WHERE sequence = \(bind: sequence)").run()
        }
    }

    /// Events waiting, in the catalog and in memory.
    func count() async throws -> Int {
        let stored = try await database.withSQL { sql in
            try await sql.raw("SELECT COUNT(*) AS count FROM webhook_events").first()?.decode(column: "count", as: Int.self) ?? 0
        }
        return stored + unwritten.withLock { $0.count }
    }

    /// Takes (or keeps) the delivery for `seconds`, unless another server holds it; true when this one does.
    func holdDelivery(as holder: String, for seconds: Double, now: Date = Date()) async throws -> Bool {
        let nowMs = Timestamp.milliseconds(now), until = nowMs + Int64(seconds * 1000)
        return try await database.withSQL { sql in
            try await sql.raw("""
                UPDATE webhook_delivery SET holder = \(bind: holder), until_ms = \(bind: until)
                WHERE id = 1 AND (holder = \(bind: holder) OR until_ms < \(bind: nowMs)) RETURNING holder
                """).first() != nil
        }
    }

    /// Lets another server take the delivery at once (this one stops).
    func releaseDelivery(as holder: String) async {
        try? await database.withSQL { sql in
            try await sql.raw("UPDATE webhook_delivery SET until_ms = 0 WHERE id = 1 AND holder = \(bind: holder)").run()
        }
    }

    /// Events an earlier version kept as files (`<folder>/<sequence>.json`, and `sequence`, the last
    /// number given): imported once with their numbers, later numbers going on from them, then moved
    /// to `<backup>/outbox`.
    func importFiles(from folder: String, backup: String) async throws {
        let files = FileManager.default
        guard files.fileExists(atPath: folder) else { return }
        let names = ((try? files.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".json") && Int($0.dropLast(5)) != nil }.sorted()
        var events: [(sequence: Int, event: WebhookEvent)] = []
        for name in names {
            guard let data = files.contents(atPath: folder + "/" + name),
                  var fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                logger.warning("webhook event unreadable; not imported, moved with the others", metadata: ["file": "\(folder)/\(name)"])
                continue
            }
            let sequence = (fields.removeValue(forKey: "sequence") as? Int) ?? Int(name.dropLast(5))!
            events.append((sequence, WebhookEvent(recordingID: fields["id"] as? String ?? "", body: Self.json(fields))))
        }
        let given = (try? String(contentsOfFile: folder + "/sequence", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let last = max(given, events.map(\.sequence).max() ?? 0)
        let kind = database.kind, found = events
        try await database.transaction { sql in
            for (sequence, event) in found {
                try await sql.raw("""
                    INSERT INTO webhook_events (sequence, recording_id, body) VALUES
                        (\(bind: sequence), \(bind: event.recordingID), \(bind: event.body))
                    ON CONFLICT (sequence) DO NOTHING
                    """).run()
            }
            guard last > 0 else { return }
            // The next number goes on from the last one given.
            if kind == .postgres {
                try await sql.raw("""
                    SELECT setval('webhook_events_sequence_seq', GREATEST(\(bind: last), (SELECT last_value FROM webhook_events_sequence_seq)))
                    """).run()
            } else {
                try await sql.raw("""
                    INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_events', 0
                    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'webhook_events')
                    """).run()
                try await sql.raw("""
                    UPDATE sqlite_sequence SET seq = MAX(seq, \(bind: last)) WHERE name = 'webhook_events'
                    """).run()
            }
        }
        try files.createDirectory(atPath: backup, withIntermediateDirectories: true)
        let target = backup + "/outbox"
        try? files.removeItem(atPath: target)
        try files.moveItem(atPath: folder, toPath: target)
        logger.info("webhook events of an earlier version imported into the catalog",
                    metadata: ["events": "\(events.count)", "moved.to": "\(target)"])
    }

    private func url(of location: StoredLocation) -> String {
        switch location {
        case .remote(let url): url
        case .servedLocally(let path): "\(baseURL)/\(path)"
        }
    }

    /// Keys sorted: the same event is the same bytes every time it is sent.
    private static func json(_ fields: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

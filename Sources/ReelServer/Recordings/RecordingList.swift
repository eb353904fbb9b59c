import Foundation
import Logging
import ReelErrors
import ReelStorage
import SQLKit
import Synchronization

/// One page of the list of recordings, newest first.
struct RecordingPage: Sendable {
    var entries: [RecordingEntry]
    var total: Int
    /// The cursor of the next page (the id of this page's last entry), nil on the last page.
    var next: String?
}

/// Every recording there has been, kept in the catalog's database (the
/// `recordings` table, thumbnails in `thumbnails`), so the list and the uploads
/// still to retry survive a restart and every instance sharing the database
/// sees the same. A change is read, made and written in one transaction.
///
/// A recording is changed only by the process that records it until it is
/// stored or failed, so this process keeps its own recordings' entries in memory
/// too: they are changed without reading them back, and answered while the
/// database is away. A change the database cannot take (its disk full,
/// PostgreSQL away) is kept in memory and written with the next change that
/// goes through or on the janitor's tick: a recording's state is never lost
/// while the process runs, and what a crash meanwhile loses, the spool's
/// recovery finds again.
final class RecordingList: Sendable {
    let database: any CatalogDatabase
    private let logger: Logger
    /// Told when a recording becomes stored or failed, for the webhook, in the change's transaction.
    let outbox: WebhookOutbox?
    /// Changes not yet in the database: the entry, or nil for one forgotten.
    private let unsaved = Mutex<[String: RecordingEntry?]>([:])
    /// This process's recordings not yet stored or failed, as it last made them.
    private let own = Mutex<[String: RecordingEntry]>([:])
    /// Changes one at a time: a change read from memory, or a kept change written late, never lands
    /// over a newer one.
    private let writes = AsyncGate()

    init(database: any CatalogDatabase, outbox: WebhookOutbox? = nil, logger: Logger) {
        self.database = database
        self.outbox = outbox
        self.logger = logger
    }

    func entry(_ id: String) async throws -> RecordingEntry? {
        if let kept = unsaved.withLock({ $0[id] }) { return kept }
        if let mine = own.withLock({ $0[id] }) { return mine }
        return try await read { sql in try await RecordingRows.select(id, sql) }
    }

    /// A recording that has just started: first in the list. Only one add of an id succeeds, across
    /// every server sharing the catalog: the others are `idTaken`.
    func add(_ entry: RecordingEntry) async throws {
        try await writes.run {
            await saveUnsaved(except: entry.id)
            let inserted: Bool
            do {
                inserted = try await database.transaction { sql in
                    // The id is claimed first: on a conflict nothing is written.
                    guard try await sql.raw("""
                        INSERT INTO recordings (id, created_ms, state) VALUES
                            (\(bind: entry.id), \(bind: Timestamp.milliseconds(entry.created)), \(bind: entry.state.rawValue))
                        ON CONFLICT (id) DO NOTHING RETURNING id
                        """).first() != nil else { return false }
                    try await RecordingRows.save(entry, sql)
                    return true
                }
            } catch {
                throw CatalogDatabaseError(location: database.location, error)
            }
            guard inserted else { throw RecordingError.idTaken(id: entry.id) }
            own.withLock { $0[entry.id] = entry }
        }
    }

    /// Whether the entry's last change is in the database (not only kept in memory).
    func isSaved(_ id: String) -> Bool { unsaved.withLock { $0[id] == nil } }

    /// Saves what is kept in memory, then closes the database; what could not be saved is named.
    func close() async {
        await saveUnsaved()
        let lost = unsaved.withLock { $0.keys.sorted() }
        if !lost.isEmpty {
            logger.error("changes to recordings could not be saved before stopping; the next start recovers what their spool holds",
                         metadata: ["recording.ids": "\(lost.joined(separator: ","))", "database": "\(database.location)"])
        }
        await database.close()
    }

    /// Changes an entry and saves it; false when there is none (deleted meanwhile): nothing is made.
    @discardableResult
    func update(_ id: String, _ change: @escaping @Sendable (inout RecordingEntry) -> Void) async -> Bool {
        await self.change(id, createdIfNew: nil, change) != nil
    }

    /// Changes an entry, or makes one created at `createdIfNew` (what a crash left), and saves it.
    func upsert(_ id: String, createdIfNew: Date, _ change: @escaping @Sendable (inout RecordingEntry) -> Void) async {
        await self.change(id, createdIfNew: createdIfNew, change)
    }

    /// Removes a recording, with its thumbnail; `event` (its deletion, for the webhook) in the same transaction.
    func forget(_ id: String, announcing event: WebhookEvent? = nil) async {
        await writes.run { await store(id, nil, events: event.map { [$0] } ?? []) }
    }

    /// The change itself. An entry known here (this process's own, or a change still waiting for the
    /// database) is changed without reading it back; any other is read and written in one transaction.
    @discardableResult
    private func change(_ id: String, createdIfNew: Date?,
                        _ change: @escaping @Sendable (inout RecordingEntry) -> Void) async -> RecordingEntry? {
        await writes.run { await changeHoldingTheGate(id, createdIfNew: createdIfNew, change) }
    }

    private func changeHoldingTheGate(_ id: String, createdIfNew: Date?,
                                      _ change: @escaping @Sendable (inout RecordingEntry) -> Void) async -> RecordingEntry? {
        let kept = unsaved.withLock { $0[id] } ?? own.withLock { $0[id] }.map { .some($0) }
        if let kept {
            guard var entry = kept ?? createdIfNew.map({ RecordingEntry(id: id, created: $0, state: .pending) }) else {
                return nil
            }
            change(&entry)
            return await store(id, entry, events: announcement(entry, before: kept))
        }
        return await commit(id) { sql, note in
            let before = try await RecordingRows.select(id, sql, forUpdate: true)
            guard var entry = before ?? createdIfNew.map({ RecordingEntry(id: id, created: $0, state: .pending) }) else {
                return nil
            }
            change(&entry)
            note(entry, self.announcement(entry, before: before))
            try await RecordingRows.save(entry, sql)
            return entry
        }
    }

    /// The webhook's event when a change makes a recording stored or failed.
    private func announcement(_ entry: RecordingEntry, before: RecordingEntry?) -> [WebhookEvent] {
        guard let outbox, entry.state != before?.state else { return [] }
        switch entry.state {
        case .stored: return [outbox.event(.stored, entry)]
        case .failed: return [outbox.event(.failed, entry)]
        case .recording, .finishing, .pending: return []
        }
    }

    /// A page of entries, newest first, after the recording `before` (a cursor from an earlier page).
    func page(limit: Int, before: String?) async throws -> RecordingPage {
        let (entries, total, hasMore) = try await read { sql in
            var query: SQLQueryString = "SELECT \(unsafeRaw: RecordingRows.columns) FROM recordings "
            if let before {
                guard let row = try await sql.raw("SELECT created_ms FROM recordings WHERE id = \(bind: before)").first() else {
                    throw RecordingError.unknownCursor(id: before)
                }
                let created = try row.decode(column: "created_ms", as: Int.self)
                // Keyset paging: the index on (created_ms, id) goes straight to the cursor, however deep.
                query += "WHERE (created_ms, id) < (\(bind: created), \(bind: before)) "
            }
            query += "ORDER BY created_ms DESC, id DESC LIMIT \(bind: limit + 1)"
            let rows = try await sql.raw(query).all()
            let total = try await sql.raw("SELECT COUNT(*) AS total FROM recordings").first()?.decode(column: "total", as: Int.self) ?? 0
            return (try rows.prefix(limit).map(RecordingRows.entry), total, rows.count > limit)
        }
        let overlay = unsaved.withLock { $0 }
        let shown = entries.compactMap { entry -> RecordingEntry? in
            if let kept = overlay[entry.id] { return kept }
            return entry
        }
        return RecordingPage(entries: shown, total: total, next: hasMore ? entries.last?.id : nil)
    }

    /// Entries in one of `states`, oldest first.
    func entries(in states: Set<RecordingEntry.State>) async throws -> [RecordingEntry] {
        let names = states.map(\.rawValue).sorted()
        let found = try await read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: RecordingRows.columns) FROM recordings WHERE state IN (\(binds: names)) ORDER BY created_ms, id
                """).all().map(RecordingRows.entry)
        }
        let overlay = unsaved.withLock { $0 }
        var byId = [String: RecordingEntry](found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (id, entry) in overlay { byId[id] = entry.flatMap { states.contains($0.state) ? $0 : nil } }
        return byId.values.sorted { RecordingEntry.newerFirst($1, $0) }
    }

    /// The newest recording in progress on any server sharing the catalog.
    func newestInProgress() async throws -> RecordingEntry? {
        try await read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: RecordingRows.columns) FROM recordings WHERE state = 'recording' ORDER BY created_ms DESC, id DESC LIMIT 1
                """).first().map(RecordingRows.entry)
        }
    }

    /// Stored recordings, oldest first, after `after` (the last of the page before): retention's walk.
    func storedOldestFirst(after: RecordingEntry?, limit: Int) async throws -> [RecordingEntry] {
        try await read { sql in
            var query: SQLQueryString = "SELECT \(unsafeRaw: RecordingRows.columns) FROM recordings WHERE state = 'stored' "
            if let after {
                query += "AND (created_ms, id) > (\(bind: Timestamp.milliseconds(after.created)), \(bind: after.id)) "
            }
            query += "ORDER BY created_ms, id LIMIT \(bind: limit)"
            return try await sql.raw(query).all().map(RecordingRows.entry)
        }
    }

    /// How many recordings are stored, and their bytes.
    func storedTotals() async throws -> (count: Int, bytes: Int) {
        try await read { sql in
            // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
            let row = try await sql.raw("""
                SELECT COUNT(*) AS count, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes FROM recordings WHERE state = 'stored'
                """).first()
            return (try row?.decode(column: "count", as: Int.self) ?? 0, try row?.decode(column: "bytes", as: Int.self) ?? 0)
        }
    }

    func pendingCount() async throws -> Int {
        try await entries(in: [.pending]).count
    }

    /// The thumbnail's JPEG, once the recording has one.
    func thumbnail(_ id: String) async throws -> [UInt8]? {
        try await read { sql in
            try await sql.raw("SELECT jpeg FROM thumbnails WHERE id = \(bind: id)").first()?
                .decode(column: "jpeg", as: Data.self)
        }.map { [UInt8]($0) }
    }

    /// Saves the thumbnail `make` gives; false (and a warning) when there is none.
    func saveThumbnail(_ id: String, _ make: () throws -> [UInt8]?) async -> Bool {
        do {
            guard let jpeg = try make() else { return false }
            let data = Data(jpeg)
            try await database.withSQL { sql in
                try await sql.raw("""
                    INSERT INTO thumbnails (id, jpeg) VALUES (\(bind: id), \(bind: data))
                    ON CONFLICT (id) DO UPDATE SET jpeg = excluded.jpeg
                    """).run()
            }
            return true
        } catch {
            logger.warning("no thumbnail for the recording", metadata: [
                "recording.id": "\(id)", "error": "\(CatalogDatabaseError.reason(of: error))"])
            return false
        }
    }

    /// Adds entries (and thumbnails) from elsewhere, skipping ids already listed, a transaction per
    /// hundred; returns how many were added.
    func importEntries(_ entries: [(RecordingEntry, thumbnail: [UInt8]?)]) async throws -> Int {
        var added = 0
        for start in stride(from: 0, to: entries.count, by: 100) {
            added += try await importBatch(Array(entries[start..<min(entries.count, start + 100)]))
        }
        return added
    }

    private func importBatch(_ entries: [(RecordingEntry, thumbnail: [UInt8]?)]) async throws -> Int {
        do {
            return try await database.transaction { sql in
                var added = 0
                for (entry, thumbnail) in entries {
                    guard try await RecordingRows.select(entry.id, sql) == nil else { continue }
                    try await RecordingRows.save(entry, sql)
                    if let thumbnail {
                        try await sql.raw("INSERT INTO thumbnails (id, jpeg) VALUES (\(bind: entry.id), \(bind: Data(thumbnail))) ON CONFLICT (id) DO NOTHING").run()
                    }
                    added += 1
                }
                return added
            }
        } catch {
            throw CatalogDatabaseError(location: database.location, error)
        }
    }

    // MARK: - Reading and writing

    /// A read; a database that cannot answer is named in the error.
    private func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await database.withSQL(body)
        } catch let error as RecordingError {
            throw error
        } catch {
            throw CatalogDatabaseError(location: database.location, error)
        }
    }

    /// Saves `entry` (nil: removes the recording and its thumbnail), known before the database is asked.
    @discardableResult
    private func store(_ id: String, _ entry: RecordingEntry?, events: [WebhookEvent] = []) async -> RecordingEntry? {
        await commit(id, known: (entry, events)) { sql, _ in
            if let entry { try await RecordingRows.save(entry, sql) } else { try await RecordingRows.delete(id, sql) }
            return entry
        }
    }

    /// A change to one recording in a transaction, with the webhook's events it makes. What it is about
    /// to save is `known` beforehand, or noted by `body` (nil: the recording goes); when the database
    /// refuses the change, that and its events are kept in memory until a later change gets through.
    @discardableResult
    private func commit(_ id: String, known: (RecordingEntry?, [WebhookEvent])? = nil,
                        _ body: @escaping @Sendable (any SQLDatabase, _ note: @Sendable (RecordingEntry?, [WebhookEvent]) -> Void)
                            async throws -> RecordingEntry?)
        async -> RecordingEntry? {
        await saveUnsaved(except: id)
        let planned = PlannedEntry()
        let note: @Sendable (RecordingEntry?, [WebhookEvent]) -> Void = { entry, events in
            planned.value.withLock { $0 = .some(entry) }
            planned.events.withLock { $0 = events }
            self.own.withLock { $0[id] = entry.flatMap { Self.isInProgress($0) ? $0 : nil } }
        }
        if let known { note(known.0, known.1) }
        let outbox = outbox
        do {
            let (entry, fromMemory) = try await database.transaction { sql in
                let entry = try await body(sql, note)
                let fromMemory = try await outbox?.write(planned.events.withLock { $0 }, sql) ?? []
                return (entry, fromMemory)
            }
            outbox?.written(fromMemory)
            unsaved.withLock { $0[id] = nil }
            return entry
        } catch {
            outbox?.keep(planned.events.withLock { $0 })
            let kept = planned.value.withLock { $0 }
            if let kept { unsaved.withLock { $0[id] = .some(kept) } }
            logger.error(kept == nil ? "cannot read the recording's entry to change it; the change is lost"
                                     : "cannot save the recording's entry; it is kept in memory and saved with the next change",
                         metadata: ["recording.id": "\(id)", "database": "\(database.location)",
                                    "error": "\(CatalogDatabaseError.reason(of: error))"])
            return kept ?? nil
        }
    }

    /// Writes what an earlier refusal left in memory: on the janitor's tick (and at every change).
    func saveUnsaved() async {
        await outbox?.flush()
        await writes.run { await saveUnsaved(except: nil) }
    }

    /// The same, the gate held.
    private func saveUnsaved(except id: String?) async {
        let waiting = unsaved.withLock { $0.filter { $0.key != id } }
        for (waitingId, entry) in waiting {
            do {
                try await database.transaction { sql in
                    if let entry { try await RecordingRows.save(entry, sql) } else { try await RecordingRows.delete(waitingId, sql) }
                }
                // Cleared only if no change came meanwhile.
                unsaved.withLock { if $0[waitingId] == .some(entry) { $0[waitingId] = nil } }
            } catch {
                return  // still refused: the next change tries again
            }
        }
    }

    /// Still this process's to change: not yet stored or failed.
    private static func isInProgress(_ entry: RecordingEntry) -> Bool {
        entry.state == .recording || entry.state == .finishing || entry.state == .pending
    }
}

/// What a change was about to save, and the events it makes, kept for when the database refuses it.
private final class PlannedEntry: Sendable {
    let value = Mutex<RecordingEntry??>(nil)
    let events = Mutex<[WebhookEvent]>([])
}


import Foundation
import ReelStorage
import SQLKit

/// A recording entry as a row of `recordings`, both ways; the statements that read, write and remove one.
enum RecordingRows {
    static let columns = """
        id, created_ms, state, frames, duration, bytes, name, location_kind, location, location_expires_ms, \
        attempts, last_error, next_attempt_ms, has_thumbnail, preset, instance
        """

    static func select(_ id: String, _ sql: any SQLDatabase, forUpdate: Bool = false) async throws -> RecordingEntry? {
        // PostgreSQL locks the row until the transaction ends; SQLite's BEGIN IMMEDIATE already holds the whole file.
        let lock = forUpdate && sql.dialect.name == "postgresql" ? " FOR UPDATE" : ""
        return try await sql.raw("SELECT \(unsafeRaw: columns) FROM recordings WHERE id = \(bind: id)\(unsafeRaw: lock)")
            .first().map(entry)
    }

    static func delete(_ id: String, _ sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM thumbnails WHERE id = \(bind: id)").run()
        try await sql.raw("DELETE FROM recordings WHERE id = \(bind: id)").run()
    }

    static func save(_ entry: RecordingEntry, _ sql: any SQLDatabase) async throws {
        let (locationKind, location): (String?, String?) = switch entry.location {
        case .servedLocally(let path): ("local", path)
        case .remote(let url): ("remote", url)
        case nil: (nil, nil)
        }
        try await sql.raw("""
            INSERT INTO recordings (\(unsafeRaw: columns)) VALUES (
                \(bind: entry.id), \(bind: Timestamp.milliseconds(entry.created)), \(bind: entry.state.rawValue),
                \(bind: entry.frames), \(bind: entry.duration), \(bind: entry.bytes), \(bind: entry.name),
                \(bind: locationKind), \(bind: location), \(bind: entry.locationExpires.map(Timestamp.milliseconds)),
                \(bind: entry.attempts), \(bind: entry.lastError), \(bind: entry.nextAttempt.map(Timestamp.milliseconds)),
                \(bind: entry.hasThumbnail), \(bind: entry.preset), \(bind: entry.instance))
            ON CONFLICT (id) DO UPDATE SET
                created_ms = excluded.created_ms, state = excluded.state, frames = excluded.frames,
                duration = excluded.duration, bytes = excluded.bytes, name = excluded.name,
                location_kind = excluded.location_kind, location = excluded.location,
                location_expires_ms = excluded.location_expires_ms, attempts = excluded.attempts,
                last_error = excluded.last_error, next_attempt_ms = excluded.next_attempt_ms,
                has_thumbnail = excluded.has_thumbnail, preset = excluded.preset, instance = excluded.instance
            """).run()
    }

    static func entry(_ row: any SQLRow) throws -> RecordingEntry {
        let id = try row.decode(column: "id", as: String.self)
        let stateName = try row.decode(column: "state", as: String.self)
        guard let state = RecordingEntry.State(rawValue: stateName) else { throw UnreadableEntry(id: id, state: stateName) }
        var entry = RecordingEntry(id: id, created: Timestamp.date(milliseconds: try row.decode(column: "created_ms", as: Int64.self)),
                                   state: state)
        entry.frames = try row.decode(column: "frames", as: Int.self)
        entry.duration = try row.decode(column: "duration", as: Double.self)
        entry.bytes = try row.decode(column: "bytes", as: Int.self)
        entry.name = try row.decode(column: "name", as: String?.self)
        let location = try row.decode(column: "location", as: String?.self)
        switch (try row.decode(column: "location_kind", as: String?.self), location) {
        case ("local", let path?): entry.location = .servedLocally(path: path)
        case ("remote", let url?): entry.location = .remote(url: url)
        default: entry.location = nil
        }
        entry.locationExpires = try row.decode(column: "location_expires_ms", as: Int64?.self).map(Timestamp.date(milliseconds:))
        entry.attempts = try row.decode(column: "attempts", as: Int.self)
        entry.lastError = try row.decode(column: "last_error", as: String?.self)
        entry.nextAttempt = try row.decode(column: "next_attempt_ms", as: Int64?.self).map(Timestamp.date(milliseconds:))
        entry.hasThumbnail = try row.decode(column: "has_thumbnail", as: Bool.self)
        entry.preset = try row.decode(column: "preset", as: String?.self)
        entry.instance = try row.decode(column: "instance", as: String?.self)
        return entry
    }
}

/// A row the catalog cannot read as a recording (written by a newer or foreign program).
private struct UnreadableEntry: Error, CustomStringConvertible {
    var id: String
    var state: String
    var description: String { "recording \(id) has a state this reel does not know: \(state)" }
}

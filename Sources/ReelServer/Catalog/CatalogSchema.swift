import Foundation
import Logging
import SQLKit

/// The catalog's tables, as numbered migrations applied in order at start,
/// each in one transaction with its number recorded in `reel_migrations`. A
/// database whose schema is newer than this program knows is refused: an
/// older `reel` must not write to tables it does not understand.
enum CatalogSchema {
    /// One step: the statements that take the schema from `version - 1` to `version`.
    struct Migration: Sendable {
        var version: Int
        var statements: @Sendable (CatalogDatabaseKind) -> [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1) { kind in
            let blob = kind == .postgres ? "BYTEA" : "BLOB"
            return [
                """
                CREATE TABLE recordings (
                    id TEXT PRIMARY KEY,
                    created_ms BIGINT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('recording', 'finishing', 'pending', 'stored', 'failed')),
                    frames BIGINT NOT NULL DEFAULT 0,
                    duration DOUBLE PRECISION NOT NULL DEFAULT 0,
                    bytes BIGINT NOT NULL DEFAULT 0,
                    name TEXT,
                    location_kind TEXT CHECK (location_kind IN ('local', 'remote')),
                    location TEXT,
                    location_expires_ms BIGINT,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    last_error TEXT,
                    next_attempt_ms BIGINT,
                    has_thumbnail BOOLEAN NOT NULL DEFAULT FALSE,
                    preset TEXT
                )
                """,
                // The list's order, newest first, paged by (created, id).
                "CREATE INDEX recordings_newest ON recordings (created_ms, id)",
                // Pending uploads, and stored recordings oldest first (retention).
                "CREATE INDEX recordings_by_state ON recordings (state, created_ms, id)",
                "CREATE TABLE thumbnails (id TEXT PRIMARY KEY, jpeg \(blob) NOT NULL)",
            ]
        },
        // Which server records a recording (`--instance-id`): with a catalog shared by several, each
        // takes up only what its own crash left.
        Migration(version: 2) { _ in
            ["ALTER TABLE recordings ADD COLUMN instance TEXT"]
        },
        // The servers sharing the catalog, with their heartbeats.
        Migration(version: 3) { _ in
            ["""
            CREATE TABLE instances (
                id TEXT PRIMARY KEY,
                advertise_url TEXT NOT NULL,
                heartbeat_ms BIGINT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('up', 'draining', 'gone'))
            )
            """]
        },
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database to the latest schema (or to `target`); returns the version it had.
    @discardableResult
    static func migrate(_ database: any CatalogDatabase, to target: Int = latestVersion, logger: Logger) async throws -> Int {
        let kind = database.kind
        let location = database.location
        do {
            return try await database.transaction { sql in
                if kind == .postgres {
                    // Instances starting together migrate one after the other.
                    try await sql.raw("SELECT pg_advisory_xact_lock(7305110421)").run()
                }
                try await sql.raw("""
                    CREATE TABLE IF NOT EXISTS reel_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)
                    """).run()
                let found = try await sql.raw("SELECT MAX(version) AS version FROM reel_migrations").first()?
                    .decode(column: "version", as: Int?.self) ?? 0
                guard found <= latestVersion else {
                    throw CatalogDatabaseError(location: location, reason:
                        "its schema is version \(found), newer than this reel knows (\(latestVersion)); run a newer reel")
                }
                for migration in migrations where migration.version > found && migration.version <= target {
                    for statement in migration.statements(kind) {
                        try await sql.raw(SQLQueryString(statement)).run()
                    }
                    let now = Timestamp.milliseconds(Date())
                    try await sql.raw("INSERT INTO reel_migrations (version, applied_ms) VALUES (\(bind: migration.version), \(bind: now))").run()
                    logger.info("catalog schema migrated", metadata: ["database": "\(location)", "version": "\(migration.version)"])
                }
                return found
            }
        } catch let error as CatalogDatabaseError {
            throw error
        } catch {
            throw CatalogDatabaseError(location: location, error)
        }
    }
}

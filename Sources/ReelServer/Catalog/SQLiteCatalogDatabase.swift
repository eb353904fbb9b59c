import Foundation
import Logging
import SQLiteKit
import Synchronization

/// The catalog in one SQLite file: embedded, nothing to install. One
/// connection, one statement or transaction at a time (`AsyncGate`); WAL so a
/// crash never leaves half a change, and a busy timeout so another process
/// holding the file (a second `reel serve` on the same folder) makes a
/// statement wait instead of fail.
final class SQLiteCatalogDatabase: CatalogDatabase {
    let kind = CatalogDatabaseKind.sqlite
    let location: String
    private let connection: SQLiteConnection
    private let sql: any SQLDatabase
    private let gate = AsyncGate()
    private let closed = ClosedFlag()

    init(path: String, logger: Logger) async throws {
        location = path
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw CatalogDatabaseError(location: path, error)
        }
        // Statements are not logged: their values hold signed URLs.
        sql = connection.sql(queryLogLevel: nil)
        do {
            try await sql.raw("PRAGMA busy_timeout = 5000").run()
            try await sql.raw("PRAGMA journal_mode = WAL").run()
            try await sql.raw("PRAGMA synchronous = NORMAL").run()
        } catch {
            try? await connection.close()
            throw CatalogDatabaseError(location: path, error)
        }
    }

    func withSQL<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let sql = sql
        return try await uncancelled { try await self.gate.run { try await body(sql) } }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let sql = sql
        // IMMEDIATE: the write lock is taken now, not at the first write, so two processes never deadlock.
        return try await uncancelled { try await self.gate.run { try await inTransaction(sql, begin: "BEGIN IMMEDIATE", body) } }
    }

    func close() async {
        // In a task of its own: a cancelled caller (a server that failed to start) still closes the file.
        _ = try? await uncancelled { [gate, connection, closed = self.closed] in
            try await gate.run {
                guard !closed.isSet else { return }
                try await connection.close()
                closed.set()
            }
        }
    }

    deinit {
        // Dropped without close (a test's server, a failed start): the file is closed all the same.
        if !closed.isSet { Task { [connection] in try? await connection.close() } }
    }
}

private final class ClosedFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ReelErrors
import SQLiteNIO
import SQLKit

/// The SQL database that holds the catalog: SQLite in a file by default,
/// PostgreSQL when `--database-url` names one. The catalog's statements are
/// written once for both; what differs (a column type, locking) asks `kind`.
protocol CatalogDatabase: Sendable {
    var kind: CatalogDatabaseKind { get }
    /// Where it is, for messages: a path, or `host:port/database` (never a password).
    var location: String { get }
    /// Runs statements that need no transaction.
    func withSQL<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs statements in one transaction: all of them or none.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Closes the connections; nothing may be asked afterwards.
    func close() async
}

/// Runs `body` in a task of its own: a change begun is finished even when the request or
/// service that asked is cancelled (a stopping server still saves what its recordings became).
func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await body() }.value
}

/// `body` between `begin` and COMMIT on one connection; rolled back when it throws.
func inTransaction<T>(_ sql: any SQLDatabase, begin: SQLQueryString,
                      _ body: (any SQLDatabase) async throws -> T) async throws -> T {
    try await sql.raw(begin).run()
    do {
        let result = try await body(sql)
        try await sql.raw("COMMIT").run()
        return result
    } catch {
        try? await sql.raw("ROLLBACK").run()
        throw error
    }
}

enum CatalogDatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// A database that cannot be opened or asked, with where and why.
struct CatalogDatabaseError: Error, CustomStringConvertible {
    var location: String
    var reason: String
    var description: String { "catalog database \(location): \(reason)" }
}

extension CatalogDatabaseError {
    /// A SQLite or PostgreSQL error in one line: PostgresNIO's own text hides the server's message.
    init(location: String, _ error: any Error) {
        self.location = location
        reason = Self.reason(of: error)
    }

    static func reason(of error: any Error) -> String {
        switch error {
        case let error as CatalogDatabaseError:
            return error.reason
        case is CancellationError:
            return "cancelled: the server is stopping"
        case let error as SQLiteError:
            return error.message.isEmpty ? "\(error.reason)" : error.message
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying { return describeUnderlying(underlying) }
            return switch error.code {
            case .serverClosedConnection: "PostgreSQL closed the connection"
            case .sslUnsupported: "PostgreSQL does not offer TLS, which the URL's sslmode asks for"
            case .poolClosed, .clientClosedConnection: "the connection is closed: the server is stopping"
            case .queryCancelled: "the statement was cancelled"
            case .tooManyParameters: "too many values in one statement"
            case .authMechanismRequiresPassword: "PostgreSQL asks for a password, which the URL does not give"
            case .unsupportedAuthMechanism, .saslError: "PostgreSQL asks for a way of signing in this reel does not speak"
            default: "PostgreSQL's answer could not be understood (\(error.code))"
            }
        default:
            return describeUnderlying(error)
        }
    }

    private static func describeUnderlying(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.first.map { describeUnderlying($0.error) } ?? "cannot connect"
        }
        if let error = error as? IOError { return ReelErrors.reason(errno: error.errnoCode) }
        return describe(error)
    }
}

/// Opens the catalog's database: PostgreSQL for a `postgres://` URL, else SQLite at `sqlitePath`.
func openCatalogDatabase(url: String?, sqlitePath: String, logger: Logger) async throws -> any CatalogDatabase {
    if let url, !url.isEmpty {
        return try PostgresCatalogDatabase(url: url, logger: logger)
    }
    return try await SQLiteCatalogDatabase(path: sqlitePath, logger: logger)
}

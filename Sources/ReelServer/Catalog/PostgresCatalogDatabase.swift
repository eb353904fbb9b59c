import Foundation
import Logging
import PostgresKit
import PostgresNIO
import Synchronization

/// The catalog in PostgreSQL (`--database-url postgres://…`), which every
/// instance of a cluster shares. A pool of connections (PostgresNIO's
/// `PostgresClient`), run by this type's own task from open to close.
final class PostgresCatalogDatabase: CatalogDatabase {
    let kind = CatalogDatabaseKind.postgres
    let location: String
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger
    /// Until when PostgreSQL is taken as away, and what was said of it.
    private let away = Mutex<(until: ContinuousClock.Instant, error: CatalogDatabaseError)?>(nil)

    init(url: String, logger: Logger) throws {
        let configuration: SQLPostgresConfiguration
        do {
            configuration = try SQLPostgresConfiguration(url: url)
        } catch {
            throw CatalogDatabaseError(location: Self.redacted(url), reason: "not a PostgreSQL URL (postgres://user:password@host:port/database)")
        }
        let core = configuration.coreConfiguration
        guard let host = core.host else {
            throw CatalogDatabaseError(location: Self.redacted(url), reason: "the URL names no host")
        }
        let port = core.port ?? 5432
        location = "\(host):\(port)/\(core.database ?? core.username)"
        let tls: PostgresClient.Configuration.TLS =
            switch (core.tls.isEnforced, core.tls.isAllowed, core.tls.sslContext?.configuration) {
            case (true, _, let tls?): .require(tls)
            case (false, true, let tls?): .prefer(tls)
            default: .disable
            }
        var clientConfiguration = PostgresClient.Configuration(
            host: host, port: port, username: core.username, password: core.password, database: core.database, tls: tls)
        clientConfiguration.options.connectTimeout = .seconds(5)
        // The pool's own log says each failed connection attempt in PostgresNIO's debug text: the
        // catalog's errors say it in one line instead (503 answers, "cannot save" lines).
        var poolLogger = logger
        poolLogger.logLevel = .critical
        client = PostgresClient(configuration: clientConfiguration, backgroundLogger: poolLogger)
        running = Task { [client] in await client.run() }
        self.logger = logger
    }

    func withSQL<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await bounded { [client] in
            try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: nil))
            }
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await bounded { [client] in
            try await client.withConnection { connection in
                try await inTransaction(connection.sql(queryLogLevel: nil), begin: "BEGIN", body)
            }
        }
    }

    /// Runs `body` to its end even when its caller is cancelled, but waits at most `answerSeconds`:
    /// the pool waits for a connection as long as PostgreSQL is away, and a request must not. Once
    /// PostgreSQL has not answered, what asks in the next `awaySeconds` is told so at once.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if let away = away.withLock({ $0 }), away.until > .now { throw away.error }
        do {
            let value = try await Self.answerWithin(.seconds(Self.answerSeconds), body)
            away.withLock { $0 = nil }
            return value
        } catch {
            // No answer, or no connection (not a statement PostgreSQL refused): it is away.
            if error is NoAnswer || (error as? PSQLError).map({ $0.serverInfo == nil && $0.underlying != nil }) == true {
                let said = error is NoAnswer
                    ? CatalogDatabaseError(location: location, reason:
                        "no answer within \(Self.answerSeconds) s; is PostgreSQL running and reachable from here?")
                    : CatalogDatabaseError(location: location, error)
                away.withLock { $0 = (ContinuousClock.now + .seconds(Self.awaySeconds), said) }
                throw said
            }
            throw error
        }
    }

    static let awaySeconds = 5

    /// `body`'s result, or `NoAnswer` once `limit` has passed. The caller is not kept waiting past it
    /// (a statement PostgresNIO is waiting on cannot be cancelled: it is left to end on its own).
    private static func answerWithin<T: Sendable>(_ limit: Duration,
                                                  _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let answer = OnceAnswer<T>()
        return try await withCheckedThrowingContinuation { continuation in
            answer.waiting(continuation)
            let timer = Task {
                try await Task.sleep(for: limit)
                answer.give(.failure(NoAnswer()))
            }
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                answer.give(result)
                timer.cancel()
            }
        }
    }
    static let answerSeconds = 10

    func close() async {
        running.cancel()
        await running.value
    }

    deinit {
        // Dropped without close (a start that failed after opening it): the pool stops all the same.
        running.cancel()
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "the database URL" }
        if parts.password != nil { parts.password = "***" }
        return parts.string ?? "the database URL"
    }
}

private struct NoAnswer: Error {}

/// A continuation resumed by whichever comes first, the answer or the timer.
private final class OnceAnswer<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func waiting(_ waiting: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = waiting } }

    func give(_ result: Result<T, any Error>) {
        continuation.withLock { waiting in
            let first = waiting
            waiting = nil
            return first
        }?.resume(with: result)
    }
}

import Foundation
import Logging
import PostgresKit
import PostgresNIO

/// The catalog in PostgreSQL (`--database-url postgres://…`), which every
/// instance of a cluster shares. A pool of connections (PostgresNIO's
/// `PostgresClient`), run by this type's own task from open to close.
final class PostgresCatalogDatabase: CatalogDatabase {
    let kind = CatalogDatabaseKind.postgres
    let location: String
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger

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
        client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        running = Task { [client] in await client.run() }
        self.logger = logger
    }

    func withSQL<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await uncancelled { [client] in
            try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: nil))
            }
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await uncancelled { [client] in try await client.withConnection { connection in
            let sql = connection.sql(queryLogLevel: nil)
            try await sql.raw("BEGIN").run()
            do {
                let result = try await body(sql)
                try await sql.raw("COMMIT").run()
                return result
            } catch {
                try? await sql.raw("ROLLBACK").run()
                throw error
            }
        } }
    }

    func close() async {
        running.cancel()
        await running.value
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "the database URL" }
        if parts.password != nil { parts.password = "***" }
        return parts.string ?? "the database URL"
    }
}

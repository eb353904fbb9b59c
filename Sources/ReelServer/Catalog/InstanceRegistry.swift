import Foundation
import Logging
import SQLKit
import Synchronization

/// The servers sharing a catalog (`instances`): each says it is alive by a heartbeat, and says when
/// it stops. What another server records is answered by that server, or, once its heartbeat is
/// older than `--instance-timeout`, by a 503 naming it until it comes back and recovers its spool.
final class InstanceRegistry: Sendable {
    enum State: String, Sendable {
        /// Taking requests.
        case up
        /// Stopping: finishing and storing its recordings.
        case draining
        /// Stopped cleanly; its recordings are all stored or pending on its disk.
        case gone
    }

    struct Instance: Sendable, Equatable {
        var id: String
        var advertiseURL: String
        var heartbeat: Date
        var state: State
    }

    let database: any CatalogDatabase
    /// This server's `--instance-id` and `--advertise-url`.
    let id: String
    let advertiseURL: String
    /// A heartbeat older than this, and its server is taken as lost.
    let timeout: Double
    private let logger: Logger
    /// Whether the last beat failed, so a database away is said once, not at every beat.
    private let failing = Mutex(false)

    init(database: any CatalogDatabase, id: String, advertiseURL: String, timeout: Double, logger: Logger) {
        self.database = database
        self.id = id
        self.advertiseURL = advertiseURL
        self.timeout = timeout
        self.logger = logger
    }

    /// How often this server beats: often enough that a lost beat or two never makes it look lost.
    var interval: Duration { .milliseconds(Int(max(0.5, timeout / 5) * 1000)) }

    /// Says this server is `state`; a failure is logged once, until a beat gets through again.
    func beat(_ state: State) async {
        do {
            try await record(state)
            if failing.withLock({ $0 }) { logger.info("heartbeat recorded again", metadata: ["instance": "\(id)"]) }
            failing.withLock { $0 = false }
        } catch {
            if !failing.withLock({ $0 }) {
                logger.warning("cannot record this server's heartbeat; the others will take it as lost after --instance-timeout",
                               metadata: ["instance": "\(id)", "error": "\(CatalogDatabaseError.reason(of: error))"])
            }
            failing.withLock { $0 = true }
        }
    }

    /// Writes this server's state and heartbeat.
    func record(_ state: State = .up, now: Date = Date()) async throws {
        let (id, url) = (id, advertiseURL)
        try await database.withSQL { sql in
            try await sql.raw("""
                INSERT INTO instances (id, advertise_url, heartbeat_ms, state) VALUES
                    (\(bind: id), \(bind: url), \(bind: Timestamp.milliseconds(now)), \(bind: state.rawValue))
                ON CONFLICT (id) DO UPDATE SET
                    advertise_url = excluded.advertise_url, heartbeat_ms = excluded.heartbeat_ms, state = excluded.state
                """).run()
        }
    }

    func instance(_ id: String) async throws -> Instance? {
        try await database.withSQL { sql in
            guard let row = try await sql.raw("""
                SELECT id, advertise_url, heartbeat_ms, state FROM instances WHERE id = \(bind: id)
                """).first() else { return nil }
            return Instance(id: try row.decode(column: "id", as: String.self),
                            advertiseURL: try row.decode(column: "advertise_url", as: String.self),
                            heartbeat: Timestamp.date(milliseconds: try row.decode(column: "heartbeat_ms", as: Int64.self)),
                            state: State(rawValue: try row.decode(column: "state", as: String.self)) ?? .gone)
        }
    }

    /// A recording in progress on another server sharing the catalog is not this one's to take frames
    /// for: 421 naming that server while it beats, 503 with Retry-After once it is lost.
    func refuseIfRecordedElsewhere(_ entry: RecordingEntry) async throws {
        guard entry.state == .recording || entry.state == .finishing, let instance = entry.instance, instance != id else { return }
        let other = try await self.instance(instance)
        if isLost(other) {
            let silent = other.map { Int(Date().timeIntervalSince($0.heartbeat)) } ?? Int(timeout)
            throw RecordingError.instanceLost(id: entry.id, instance: instance, url: other?.advertiseURL ?? "no address known",
                                              seconds: silent, retryAfter: max(1, Int(timeout / 3)))
        }
        throw RecordingError.recordedElsewhere(id: entry.id, instance: instance, url: other?.advertiseURL ?? "", here: id)
    }

    /// The other servers sharing the catalog that are up now (beating, not stopped).
    func othersUp(now: Date = Date()) async throws -> [Instance] {
        let all = try await database.withSQL { [id] sql in
            try await sql.raw("SELECT id FROM instances WHERE id <> \(bind: id) ORDER BY id").all()
                .map { try $0.decode(column: "id", as: String.self) }
        }
        var up: [Instance] = []
        for other in all {
            if let instance = try await instance(other), !isLost(instance, now: now) { up.append(instance) }
        }
        return up
    }

    /// Whether `instance` has not beaten within the timeout (or stopped): its recordings cannot be reached now.
    func isLost(_ instance: Instance?, now: Date = Date()) -> Bool {
        guard let instance else { return true }
        return instance.state == .gone || now.timeIntervalSince(instance.heartbeat) > timeout
    }
}

import Foundation
import Logging
import Metrics
import ReelErrors
import ReelStorage

/// What a webhook receiver is told.
enum WebhookEventKind: String, Sendable {
    case stored = "recording.stored"
    case failed = "recording.failed"
    case deleted = "recording.deleted"
}

/// Events waiting for the webhook receiver, kept as files beside the catalog
/// (`<recordings-dir>/outbox/<sequence>.json`) until it takes them: they
/// survive restarts and go out in the order they happened. The last sequence
/// number given is kept too (`sequence`), so numbers are never given twice.
final class WebhookOutbox: @unchecked Sendable {
    let folder: String
    /// The base of local videos' URLs (`--public-url`, else this host and port).
    private let baseURL: String
    private let lock = NSLock()
    /// Names of the files waiting, oldest first.
    private var waiting: [String] = []
    private var lastSequence = 0
    private let logger: Logger
    /// Events waiting, as `reel_webhooks_pending`.
    private let pendingGauge: Meter

    init(folder: String, baseURL: String, pendingGauge: Meter, logger: Logger) throws {
        self.folder = folder
        self.baseURL = baseURL
        self.pendingGauge = pendingGauge
        self.logger = logger
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        waiting = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".json") && Int($0.dropLast(5)) != nil }
            .sorted()
        let kept = (try? String(contentsOfFile: sequencePath, encoding: .utf8)).flatMap { Int($0) } ?? 0
        lastSequence = max(kept, waiting.last.flatMap { Int($0.dropLast(5)) } ?? 0)
        pendingGauge.set(waiting.count)
    }

    private var sequencePath: String { folder + "/sequence" }

    var count: Int { lock.withLock { waiting.count } }

    /// Keeps an event for `entry`; `rule` says which rule deleted it.
    func add(_ kind: WebhookEventKind, _ entry: RecordingEntry, rule: DeletionReason? = nil, now: Date = Date()) {
        var event: [String: Any] = [
            "event": kind.rawValue,
            "id": entry.id,
            "created": Timestamp.text(entry.created),
            "time": Timestamp.text(now),
            "frames": entry.frames,
            "duration": (entry.duration * 1000).rounded() / 1000,
            "bytes": entry.bytes,
        ]
        if kind == .stored, let location = entry.location { event["video url"] = url(of: location) }
        if kind == .failed { event["last error"] = entry.lastError ?? "" }
        if let rule { event["rule"] = rule.rawValue }
        lock.withLock {
            lastSequence += 1
            event["sequence"] = lastSequence
            let name = String(format: "%012d.json", lastSequence)
            do {
                let body = try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])
                try body.write(to: URL(fileURLWithPath: folder + "/" + name), options: .atomic)
                try Data(String(lastSequence).utf8).write(to: URL(fileURLWithPath: sequencePath), options: .atomic)
                waiting.append(name)
                pendingGauge.set(waiting.count)
            } catch {
                logger.error("cannot keep a webhook event; it is not sent", metadata: [
                    "event": "\(kind.rawValue)", "recording.id": "\(entry.id)", "folder": "\(folder)",
                    "error": "\(describe(error))"])
            }
        }
    }

    /// The oldest event waiting: its file name and body.
    func oldest() -> (name: String, body: [UInt8])? {
        lock.withLock {
            while let name = waiting.first {
                if let data = FileManager.default.contents(atPath: folder + "/" + name) { return (name, [UInt8](data)) }
                waiting.removeFirst()  // gone from the disk: nothing to send
            }
            return nil
        }
    }

    /// The receiver took the event.
    func remove(_ name: String) {
        lock.withLock {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
            waiting.removeAll { $0 == name }
            pendingGauge.set(waiting.count)
        }
    }

    private func url(of location: StoredLocation) -> String {
        switch location {
        case .remote(let url): url
        case .servedLocally(let path): "\(baseURL)/\(path)"
        }
    }
}

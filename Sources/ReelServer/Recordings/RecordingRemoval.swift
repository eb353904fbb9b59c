import Foundation
import Logging
import ReelErrors
import ReelStorage

/// Why a recording was deleted: asked for through the API, or a retention rule.
enum DeletionReason: String, CaseIterable, Sendable {
    case request
    /// Older than `--keep-days`.
    case age
    /// Among the oldest while the stored total was over `--keep-bytes`.
    case size
    /// Among the oldest while the spool's disk, which the videos share, was short of space (with `--keep-bytes`).
    case disk
}

/// Deletes recordings: the stored video from its storage, then the thumbnail,
/// the entry and whatever the spool still holds of it. A recording in progress,
/// finishing or waiting for its upload is never touched. When storage refuses
/// or cannot be reached nothing is removed, and the entry says why.
actor RecordingRemoval {
    private let recordings: RecordingList
    private let storage: any VideoStorage
    private let layout: SpoolLayout
    private let metrics: ServerMetrics
    private let logger: Logger
    private var deleting: Set<String> = []

    init(recordings: RecordingList, storage: any VideoStorage, layout: SpoolLayout, metrics: ServerMetrics,
         logger: Logger) {
        self.recordings = recordings
        self.storage = storage
        self.layout = layout
        self.metrics = metrics
        self.logger = logger
    }

    /// Deletes the recording and returns the entry it had.
    @discardableResult
    func delete(_ id: String, reason: DeletionReason, now: Date = Date()) async throws -> RecordingEntry {
        guard !deleting.contains(id) else { throw RecordingError.beingDeleted(id: id) }
        // Taken before the first wait: a second request meanwhile is told it is being deleted.
        deleting.insert(id)
        defer { deleting.remove(id) }
        guard let entry = try await recordings.entry(id) else { throw RecordingError.unknown(id: id) }
        guard entry.state == .stored || entry.state == .failed else {
            throw RecordingError.busy(id: id, state: entry.state.rawValue)
        }
        if entry.state == .stored, let name = entry.name {
            do {
                try await storage.delete(name: name)
            } catch {
                let why = describe(error)
                await recordings.update(id) { $0.lastError = "deleting failed: \(why)" }
                logger.warning("cannot delete the recording's video", metadata: [
                    "recording.id": "\(id)", "name": "\(name)", "rule": "\(reason.rawValue)", "error": "\(why)"])
                throw RecordingError.deletingFailed(id: id, reason: why, storageAway: isStorageUnreachable(error))
            }
        }
        layout.removeSpool(id)
        try? FileManager.default.removeItem(atPath: layout.pendingVideo(id))
        // The entry goes with its event, in one transaction.
        await recordings.forget(id, announcing: recordings.outbox?.event(.deleted, entry, rule: reason, now: now))
        metrics.recordingsDeleted(reason).increment()
        logger.info("recording deleted", metadata: [
            "recording.id": "\(id)", "name": "\(entry.name ?? "")", "rule": "\(reason.rawValue)",
            "age.days": "\(String(format: "%.2f", now.timeIntervalSince(entry.created) / 86400))",
            "bytes": "\(entry.bytes)",
        ])
        return entry
    }
}

import Foundation
import Logging

/// How long stored recordings are kept, off by default: nobody's videos vanish after an upgrade.
struct RetentionRules: Sendable, Equatable {
    /// Stored recordings older than this many days are deleted.
    var keepDays: Double?
    /// While stored recordings total more than this many bytes, the oldest are deleted.
    var keepBytes: Int?

    var isOff: Bool { keepDays == nil && keepBytes == nil }
}

/// Applies the retention rules to stored recordings, oldest first. Only stored
/// recordings are ever deleted: never one in progress, finishing or waiting for
/// its upload. A deletion that fails ends the pass; the next one tries again.
struct Retention: Sendable {
    let rules: RetentionRules
    let recordings: RecordingList
    let removal: RecordingRemoval
    /// With `--keep-bytes` and stored videos on the spool's own disk: while that disk has
    /// less than twice `--min-free` free, the oldest go too, so the full-disk guard rarely refuses.
    let sharedDisk: FreeSpace?
    let logger: Logger

    /// One pass; returns how many recordings it deleted.
    @discardableResult
    func apply(now: Date = Date()) async -> Int {
        guard !rules.isOff else { return 0 }
        var stored = recordings.entries(in: [.stored]).sorted { RecordingEntry.newerFirst($1, $0) }
        var deleted = 0
        if let days = rules.keepDays {
            let cutoff = now.addingTimeInterval(-days * 86400)
            while let oldest = stored.first, oldest.created < cutoff {
                guard await delete(oldest, .age, now) else { return deleted }
                stored.removeFirst()
                deleted += 1
            }
        }
        if let limit = rules.keepBytes {
            var total = stored.reduce(0) { $0 + $1.bytes }
            while total > limit, let oldest = stored.first {
                guard await delete(oldest, .size, now) else { return deleted }
                stored.removeFirst()
                total -= oldest.bytes
                deleted += 1
            }
            while let disk = sharedDisk, let oldest = stored.first, disk.bytesFreeNow < 2 * disk.minimum {
                guard await delete(oldest, .size, now) else { return deleted }
                stored.removeFirst()
                deleted += 1
            }
        }
        return deleted
    }

    private func delete(_ entry: RecordingEntry, _ reason: DeletionReason, _ now: Date) async -> Bool {
        do {
            try await removal.delete(entry.id, reason: reason, now: now)
            return true
        } catch RecordingError.beingDeleted {
            return true  // a request is deleting it already
        } catch {
            logger.warning("retention stopped for now: a recording could not be deleted",
                           metadata: ["recording.id": "\(entry.id)", "rule": "\(reason.rawValue)"])
            return false
        }
    }
}

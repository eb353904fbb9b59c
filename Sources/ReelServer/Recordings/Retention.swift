import Foundation
import Logging
import Metrics
import ReelErrors
import ReelStorage
import ServiceLifecycle

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
/// its upload. A recording storage refuses to delete is skipped (its entry says
/// why); storage that cannot be reached ends the pass, and the next one tries again.
struct Retention: Sendable {
    let rules: RetentionRules
    let recordings: RecordingList
    let removal: RecordingRemoval
    /// With `--keep-bytes` and stored videos on the spool's own disk: when that disk has less
    /// than twice `--min-free` free, the oldest go too, as many as cover the shortfall, so the
    /// full-disk guard rarely refuses.
    let sharedDisk: FreeSpace?
    /// Counts passes (`reel_retention_passes_total`), so a watcher can tell one has run.
    let passes: CoreMetrics.Counter
    let logger: Logger
    /// Deletions in one pass at most, so a pass never holds up the server's other work for long.
    var maxPerPass = 500

    init(rules: RetentionRules, recordings: RecordingList, removal: RecordingRemoval, sharedDisk: FreeSpace?,
         passes: CoreMetrics.Counter, logger: Logger) {
        self.rules = rules
        self.recordings = recordings
        self.removal = removal
        self.sharedDisk = sharedDisk
        self.passes = passes
        self.logger = logger
    }

    /// The server's rules; the spool's disk is watched when stored videos share it.
    init(settings: ServerSettings, spoolDisk: FreeSpace, storage: any VideoStorage, recordings: RecordingList,
         removal: RecordingRemoval, passes: CoreMetrics.Counter, logger: Logger) {
        let shared = settings.keepBytes != nil
            && (storage as? LocalDiskStorage).map { spoolDisk.sharesDisk(with: $0.folder) } == true
        self.init(rules: RetentionRules(keepDays: settings.keepDays, keepBytes: settings.keepBytes), recordings: recordings,
                  removal: removal, sharedDisk: shared ? spoolDisk : nil, passes: passes, logger: logger)
    }

    /// One pass; returns how many recordings it deleted.
    @discardableResult
    func apply(now: Date = Date()) async -> Int {
        var deleted = 0
        let doomed: [(RecordingEntry, DeletionReason)]
        do { doomed = try await self.doomed(now: now) } catch {
            logger.warning("retention paused: the catalog cannot be read", metadata: ["error": "\(describe(error))"])
            passes.increment()
            return 0
        }
        for (entry, reason) in doomed.prefix(maxPerPass) {
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            switch await delete(entry, reason, now) {
            case .deleted: deleted += 1
            case .skipped: continue
            case .storageAway:
                passes.increment()
                return deleted
            }
        }
        passes.increment()
        return deleted
    }

    /// What the rules delete now, oldest first, each with the rule that deletes it (at most `maxPerPass`).
    /// Every rule takes from the oldest, so the walk stops at the first recording no rule wants: a pass
    /// reads a page or so of the catalog, however many recordings it holds.
    func doomed(now: Date) async throws -> [(RecordingEntry, DeletionReason)] {
        guard !rules.isOff else { return [] }
        var total = try await recordings.storedTotals().bytes
        let cutoff = rules.keepDays.map { now.addingTimeInterval(-$0 * 86400) }
        // The spool's disk short of space: what deleting the oldest must give back, if anything.
        var shortfall = 0
        if let disk = sharedDisk {
            let wanted = disk.minimum.multipliedReportingOverflow(by: 2)
            shortfall = max(0, (wanted.overflow ? Int.max : wanted.partialValue) - disk.bytesFreeNow)
        }
        var doomed: [(RecordingEntry, DeletionReason)] = []
        var warned = false
        var last: RecordingEntry?
        walk: while doomed.count < maxPerPass {
            let page = try await recordings.storedOldestFirst(after: last, limit: 500)
            for entry in page {
                let reason: DeletionReason
                if let cutoff, entry.created < cutoff {
                    reason = .age
                } else if let limit = rules.keepBytes, total > limit {
                    reason = .size
                } else if shortfall > 0, total >= shortfall {
                    reason = .disk
                } else {
                    // Space taken by something else is not ours to chase.
                    if shortfall > 0, total < shortfall, !warned {
                        warned = true
                        logger.warning("the spool's disk is short of space that deleting stored recordings would not give back",
                                       metadata: ["shortfall.bytes": "\(shortfall)", "stored.bytes": "\(total)"])
                    }
                    break walk
                }
                doomed.append((entry, reason))
                total -= entry.bytes
                if reason == .disk { shortfall -= entry.bytes }
                if doomed.count == maxPerPass { break walk }
            }
            guard page.count == 500 else { break }
            last = page.last
        }
        return doomed
    }

    private enum Outcome { case deleted, skipped, storageAway }

    private func delete(_ entry: RecordingEntry, _ reason: DeletionReason, _ now: Date) async -> Outcome {
        do {
            try await removal.delete(entry.id, reason: reason, now: now)
            return .deleted
        } catch RecordingError.beingDeleted, RecordingError.unknown {
            return .skipped  // a request deleted it, or is deleting it
        } catch RecordingError.deletingFailed(_, let why, let storageAway) {
            logger.warning(storageAway ? "retention paused until storage answers" : "retention skipped a recording storage would not delete",
                           metadata: ["recording.id": "\(entry.id)", "rule": "\(reason.rawValue)", "error": "\(why)"])
            return storageAway ? .storageAway : .skipped
        } catch {
            logger.warning("retention skipped a recording", metadata: [
                "recording.id": "\(entry.id)", "rule": "\(reason.rawValue)", "error": "\(describe(error))"])
            return .skipped
        }
    }
}

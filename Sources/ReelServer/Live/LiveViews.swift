import Foundation
import Synchronization

/// The recordings that can be watched live: every recording in progress, and
/// one that was watched for a while after it ends, so that a viewer a few
/// seconds behind plays it to its end (the page then turns to the stored
/// video). One nobody watched lets go of its spool at once.
final class LiveViews: Sendable {
    /// How long an ended recording's spool stays readable.
    static let linger = Duration.seconds(120)

    private struct Watched {
        var spool: LiveSpool
        var endedAt: ContinuousClock.Instant?
    }

    private let watched = Mutex<[String: Watched]>([:])

    func add(_ spool: LiveSpool) {
        watched.withLock { $0[spool.id] = Watched(spool: spool) }
    }

    func spool(_ id: String) -> LiveSpool? { watched.withLock { $0[id]?.spool } }

    /// The recording is finished (or failed): it stays watchable for `linger` if it was watched.
    func ended(_ id: String, at now: ContinuousClock.Instant = .now) {
        watched.withLock { views in
            if views[id]?.spool.hasBeenWatched == true { views[id]?.endedAt = now } else { views[id] = nil }
        }
    }

    /// The recording is gone (deleted): nothing of it is served any more.
    func remove(_ id: String) {
        watched.withLock { $0[id] = nil }
    }

    /// Lets go of the spools whose time is up (the file's space returns once no viewer reads it).
    func removeExpired(now: ContinuousClock.Instant = .now) {
        watched.withLock { views in
            views = views.filter { _, view in view.endedAt.map { now - $0 < Self.linger } ?? true }
        }
    }
}

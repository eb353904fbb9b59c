import Foundation
import Synchronization

/// The recordings that can be watched live: every recording in progress, and
/// each for a while after it ends, so that a viewer a few seconds behind plays
/// it to its end (the page then turns to the stored video).
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

    /// The recording is finished (or failed): it stays watchable for `linger`.
    func ended(_ id: String, at now: ContinuousClock.Instant = .now) {
        watched.withLock { $0[id]?.endedAt = now }
    }

    /// Lets go of the spools whose time is up (the file's space returns once no viewer reads it).
    func removeExpired(now: ContinuousClock.Instant = .now) {
        watched.withLock { views in
            views = views.filter { _, view in view.endedAt.map { now - $0 < Self.linger } ?? true }
        }
    }
}

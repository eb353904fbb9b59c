import Logging
import ServiceLifecycle

/// The server's background work: finish idle recordings, upload pending
/// recordings again, let go of ended live views, and finish every recording
/// when the server stops.
struct RecordingJanitor: Service {
    let recorder: Recorder
    let logger: Logger

    func run() async throws {
        await recorder.retryPending()
        let interval = Duration.seconds(max(0.1, min(1, recorder.settings.limits.idleSeconds / 4)))
        var lastBeat = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if ContinuousClock.now - lastBeat >= recorder.instances.interval {
                lastBeat = .now
                await recorder.beat()
            }
            await recorder.measureLoad()
            for id in await recorder.idleRecordings() {
                _ = try? await recorder.finish(id, reason: "idle")
            }
            await recorder.retryPending()
            recorder.live.removeExpired()
        }
        // Stopping: encode what was received and store every recording, the others told so.
        await recorder.beat(.draining)
        let tally = await recorder.finishAll(reason: "shutdown")
        await recorder.beat(.gone)
        await recorder.closeCatalog()
        logger.info("reel stopped: \(tally)")
    }
}

/// Deletes what the retention rules no longer keep, at start and then every
/// `interval`: beside the janitor, so a long pass never holds up its work.
struct RetentionService: Service {
    let recorder: Recorder
    var interval = Duration.seconds(10)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await recorder.applyRetention()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// What stopping did to the recordings in progress.
struct ShutdownTally: CustomStringConvertible {
    var stored = 0
    var pending = 0
    var failed = 0
    var empty = 0
    /// Every recording still waiting for storage, for the next start.
    var pendingUploads = 0

    var description: String {
        let finished = stored + pending + failed + empty
        return "\(finished) recording\(finished == 1 ? "" : "s") in progress finished: \(stored) stored, \(pending) kept for upload, "
            + "\(failed) failed, \(empty) without frames; \(pendingUploads) upload\(pendingUploads == 1 ? "" : "s") pending for the next start"
    }
}

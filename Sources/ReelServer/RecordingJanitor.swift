import Logging
import ServiceLifecycle

/// The server's background work: finish idle recordings, upload pending
/// recordings again, and finish every recording when the server stops.
struct RecordingJanitor: Service {
    let recorder: Recorder
    let logger: Logger

    func run() async throws {
        await recorder.retryPending()
        let interval = Duration.seconds(max(0.1, min(1, recorder.settings.limits.idleSeconds / 4)))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            for id in await recorder.idleRecordings() {
                _ = try? await recorder.finish(id, reason: "idle")
            }
            await recorder.retryPending()
        }
        // Stopping: encode what was received and store every recording.
        await recorder.finishAll(reason: "shutdown")
    }
}

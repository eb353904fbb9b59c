import Foundation
import Logging
import ReelMedia
import ReelStorage

/// A recording that was finished and stored.
struct FinishedRecording: Sendable {
    var id: String
    var video: StoredVideo
    var summary: VideoSummary
}

/// Where a recording stands, as `GET /video/recordings/{id}` tells it.
enum RecordingStatus: Sendable {
    case recording(frames: Int)
    case finishing
    case pending(PendingUpload)
    case stored(FinishedRecording)
}

/// The recordings of one server: starting them, finding them for a frame,
/// finishing and storing them, retrying uploads that failed, and taking up
/// what a crash left in the spool.
actor Recorder {
    let settings: ServerSettings
    let storage: any VideoStorage
    private let namer = VideoNamer()
    private let logger: Logger
    private var active: [String: RecordingSession] = [:]
    /// Ids in the order they were created; the last is "the most recent recording".
    private var order: [String] = []
    /// Recordings that left `active`: finishing, uploading, pending or stored.
    private var finished: [String: RecordingStatus] = [:]
    /// Pending uploads with an attempt under way, so two ticks never send one twice.
    private var uploading: Set<String> = []
    private var spool: String { settings.spoolDirectory }

    init(settings: ServerSettings, storage: any VideoStorage, logger: Logger) throws {
        self.settings = settings
        self.storage = storage
        self.logger = logger
        try FileManager.default.createDirectory(atPath: PendingUpload.folder(in: settings.spoolDirectory),
                                                withIntermediateDirectories: true)
    }

    func create() throws -> RecordingSession {
        guard active.count < settings.limits.maxRecordings else {
            throw APIError(.tooManyRequests, "\(active.count) recordings are in progress, the limit; finish one first")
        }
        let id = UUID().uuidString.lowercased()
        let session: RecordingSession
        do {
            session = try RecordingSession(id: id, settings: settings)
        } catch {
            throw APIError(.internalServerError, "cannot start a recording: \(error)")
        }
        active[id] = session
        order.append(id)
        logger.info("recording started", metadata: ["recording.id": "\(id)"])
        return session
    }

    /// The recording a request names, or the most recent one when it names none.
    func session(_ id: String?) throws -> RecordingSession {
        guard let id else {
            guard let latest = order.last, let session = active[latest] else {
                throw APIError(.notFound, "no recording in progress: call /video/create_video first")
            }
            return session
        }
        if let session = active[id] { return session }
        if finished[id] != nil { throw APIError(.conflict, "recording \(id) is already finished") }
        throw APIError(.notFound, "no recording with id \(id)")
    }

    var activeCount: Int { active.count }

    /// Ids of recordings idle longer than the limit.
    func idleRecordings() -> [String] {
        let limit = Duration.seconds(settings.limits.idleSeconds)
        return active.values.filter { $0.idleTime() > limit }.map(\.id)
    }

    /// Where a recording stands, for a client asking about it.
    func status(of id: String) -> RecordingStatus? {
        if let session = active[id] { return .recording(frames: session.frames) }
        return finished[id]
    }

    var pendingCount: Int {
        finished.values.filter { if case .pending = $0 { true } else { false } }.count
    }

    /// Finishes a recording: flush the encoder, remux to faststart, store. When
    /// storing fails the MP4 stays pending and is uploaded again later.
    func finish(_ id: String?, reason: String = "finish") async throws -> FinishedRecording {
        let session = try session(id)
        active[session.id] = nil
        order.removeAll { $0 == session.id }
        finished[session.id] = .finishing
        let clock = ContinuousClock.now
        let summary: VideoSummary
        do {
            summary = try await session.finish(to: PendingUpload.videoPath(id: session.id, in: spool))
        } catch let error as MediaError {
            finished[session.id] = nil
            logger.warning("recording ended without video", metadata: ["recording.id": "\(session.id)", "error": "\(error)"])
            throw APIError(error)
        }
        let pending = PendingUpload(id: session.id, name: namer.nextName(), frames: summary.frames,
                                    duration: summary.duration, bytes: summary.bytes)
        try? pending.save(in: spool)
        let outcome = await upload(pending)
        let elapsed = ContinuousClock.now - clock
        logger.info("recording finished", metadata: [
            "recording.id": "\(session.id)", "reason": "\(reason)", "frames": "\(summary.frames)",
            "seconds": "\(String(format: "%.2f", summary.duration))", "bytes": "\(summary.bytes)",
            "encode.fps": "\(String(format: "%.1f", session.encodeFPS))",
            "finish.ms": "\(elapsed.inMilliseconds)",
            "name": "\(pending.name)",
        ])
        switch outcome {
        case .stored(let result):
            return result
        case .pending(let pending):
            throw APIError(.internalServerError,
                           "storing the video failed (\(pending.lastError ?? "unknown")); it is kept and will be uploaded again",
                           extra: ["id": .string(session.id), "pending": .bool(true)])
        }
    }

    /// Finishes every recording in progress (the server is stopping).
    func finishAll(reason: String) async {
        for id in order {
            _ = try? await finish(id, reason: reason)
        }
    }

    /// Uploads again every pending recording whose time has come.
    func retryPending(now: Date = Date()) async {
        let due = finished.values.compactMap { status -> PendingUpload? in
            if case .pending(let pending) = status, pending.nextAttempt <= now, !uploading.contains(pending.id) {
                return pending
            }
            return nil
        }
        for pending in due.sorted(by: { $0.nextAttempt < $1.nextAttempt }) {
            _ = await upload(pending)
        }
    }

    /// One attempt to store a pending MP4. Success deletes the local copy; failure
    /// keeps it with the error and the time of the next attempt.
    private enum UploadOutcome {
        case stored(FinishedRecording)
        case pending(PendingUpload)
    }

    private func upload(_ pending: PendingUpload) async -> UploadOutcome {
        var pending = pending
        uploading.insert(pending.id)
        defer { uploading.remove(pending.id) }
        pending.attempts += 1
        do {
            let video = try await storage.store(file: PendingUpload.videoPath(id: pending.id, in: spool), name: pending.name)
            pending.remove(in: spool)
            let result = FinishedRecording(id: pending.id, video: video, summary: VideoSummary(
                frames: pending.frames, duration: pending.duration, bytes: pending.bytes))
            finished[pending.id] = .stored(result)
            if pending.attempts > 1 {
                logger.info("pending recording stored", metadata: [
                    "recording.id": "\(pending.id)", "attempts": "\(pending.attempts)", "name": "\(pending.name)"])
            }
            return .stored(result)
        } catch {
            pending.lastError = "\(error)"
            pending.nextAttempt = Date().addingTimeInterval(retryDelay(after: pending.attempts))
            try? pending.save(in: spool)
            finished[pending.id] = .pending(pending)
            logger.error("storing the recording failed; it is kept and retried", metadata: [
                "recording.id": "\(pending.id)", "attempts": "\(pending.attempts)", "error": "\(error)",
                "retry.seconds": "\(Int(pending.nextAttempt.timeIntervalSinceNow.rounded()))"])
            return .pending(pending)
        }
    }

    /// Seconds before the next attempt: doubling from 2 s, capped by the retry limit.
    private func retryDelay(after attempts: Int) -> Double {
        min(settings.retryMaxSeconds, 2 * pow(2, Double(min(attempts - 1, 20))))
    }

    /// Takes up what an earlier process left: recordings in progress (fragmented
    /// MP4, cut after their last complete fragment and remuxed) become pending
    /// uploads, and pending uploads are loaded to be tried again at once.
    func recoverSpool() {
        let files = FileManager.default
        for name in ((try? files.contentsOfDirectory(atPath: spool)) ?? []).sorted() where name.hasSuffix(".spool.mp4") {
            let id = String(name.dropLast(".spool.mp4".count))
            guard active[id] == nil, finished[id] == nil else { continue }
            let path = (spool as NSString).appendingPathComponent(name)
            do {
                let summary = try MP4Remuxer.faststart(from: path, to: PendingUpload.videoPath(id: id, in: spool))
                try PendingUpload(id: id, name: namer.nextName(), frames: summary.frames, duration: summary.duration,
                                  bytes: summary.bytes).save(in: spool)
                try? files.removeItem(atPath: path)
                logger.info("recording recovered from the spool", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
            } catch MediaError.noFrames {
                try? files.removeItem(atPath: path)
                logger.info("spooled recording had no complete frames; removed", metadata: ["recording.id": "\(id)"])
            } catch {
                logger.error("cannot recover spooled recording", metadata: ["recording.id": "\(id)", "error": "\(error)"])
            }
        }
        let folder = PendingUpload.folder(in: spool)
        for name in ((try? files.contentsOfDirectory(atPath: folder)) ?? []).sorted() where name.hasSuffix(".mp4") {
            let id = String(name.dropLast(".mp4".count))
            guard finished[id] == nil else { continue }
            var pending = PendingUpload.load(id: id, in: spool)
            if pending == nil, let summary = try? MP4Remuxer.probe(folder + "/" + name) {
                // Remuxed but its sidecar never written: a crash in between.
                pending = PendingUpload(id: id, name: namer.nextName(), frames: summary.frames,
                                        duration: summary.duration, bytes: summary.bytes)
                try? pending?.save(in: spool)
            }
            guard var pending else { continue }
            pending.nextAttempt = Date()
            finished[id] = .pending(pending)
        }
    }
}

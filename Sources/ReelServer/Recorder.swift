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

/// The recordings of one server: starting them, finding them for a frame,
/// finishing and storing them, and recovering what a crash left in the spool.
actor Recorder {
    let settings: ServerSettings
    let storage: any VideoStorage
    private let namer = VideoNamer()
    private let logger: Logger
    private var active: [String: RecordingSession] = [:]
    /// Ids in the order they were created; the last is "the most recent recording".
    private var order: [String] = []
    /// Ids being finished or finished, so a second finish gets a clear answer.
    private var finished: [String: FinishedRecording?] = [:]

    init(settings: ServerSettings, storage: any VideoStorage, logger: Logger) throws {
        self.settings = settings
        self.storage = storage
        self.logger = logger
        try FileManager.default.createDirectory(atPath: settings.spoolDirectory, withIntermediateDirectories: true)
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

    var activeIDs: [String] { Array(active.keys) }

    /// Finishes a recording: flush the encoder, remux to faststart, store.
    func finish(_ id: String?, reason: String = "finish") async throws -> FinishedRecording {
        let session = try session(id)
        active[session.id] = nil
        order.removeAll { $0 == session.id }
        finished[session.id] = .some(nil)
        let output = (settings.spoolDirectory as NSString).appendingPathComponent("\(session.id).mp4")
        let clock = ContinuousClock.now
        let summary: VideoSummary
        do {
            summary = try await session.finish(to: output)
        } catch let error as MediaError {
            finished[session.id] = nil
            logger.warning("recording ended without video", metadata: ["recording.id": "\(session.id)", "error": "\(error)"])
            throw APIError(error)
        }
        let result = try await store(output, id: session.id, summary: summary)
        finished[session.id] = result
        let seconds = (ContinuousClock.now - clock)
        logger.info("recording finished", metadata: [
            "recording.id": "\(session.id)", "reason": "\(reason)", "frames": "\(summary.frames)",
            "seconds": "\(String(format: "%.2f", summary.duration))", "bytes": "\(summary.bytes)",
            "encode.fps": "\(String(format: "%.1f", session.encodeFPS))",
            "finish.ms": "\(seconds.components.attoseconds / 1_000_000_000_000_000 + seconds.components.seconds * 1000)",
            "name": "\(result.video.name)",
        ])
        return result
    }

    /// Finishes every recording in progress (the server is stopping).
    func finishAll(reason: String) async {
        for id in order {
            _ = try? await finish(id, reason: reason)
        }
    }

    /// Stores the faststart MP4 at `output`; the file is deleted once stored and
    /// kept in the spool (recovered at the next start) when storage fails.
    private func store(_ output: String, id: String, summary: VideoSummary) async throws -> FinishedRecording {
        do {
            let video = try await storage.store(file: output, name: namer.nextName())
            try? FileManager.default.removeItem(atPath: output)
            return FinishedRecording(id: id, video: video, summary: summary)
        } catch {
            finished[id] = nil
            logger.error("storing the recording failed; it stays in the spool",
                         metadata: ["recording.id": "\(id)", "error": "\(error)", "file": "\(output)"])
            throw APIError(.internalServerError, "storing the video failed: \(error)", extra: ["id": .string(id)])
        }
    }

    /// Finishes and stores what an earlier process left in the spool: recordings
    /// in progress (fragmented MP4, cut after their last complete fragment) and
    /// finished MP4s that were never stored.
    func recoverSpool() async {
        let spool = settings.spoolDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: spool) else { return }
        for name in names.sorted() where name.hasSuffix(".mp4") {
            let id = String(name.dropLast(".mp4".count).split(separator: ".")[0])
            guard active[id] == nil, finished[id] == nil else { continue }
            let path = (spool as NSString).appendingPathComponent(name)
            let output = (spool as NSString).appendingPathComponent("\(id).mp4")
            do {
                let summary: VideoSummary
                if name.hasSuffix(".spool.mp4") {
                    summary = try MP4Remuxer.faststart(from: path, to: output)
                    try? FileManager.default.removeItem(atPath: path)
                } else {
                    summary = try MP4Remuxer.probe(output)
                }
                let result = try await store(output, id: id, summary: summary)
                finished[id] = result
                logger.info("recording recovered from the spool", metadata: [
                    "recording.id": "\(id)", "frames": "\(summary.frames)", "name": "\(result.video.name)"])
            } catch MediaError.noFrames {
                try? FileManager.default.removeItem(atPath: path)
                logger.info("spooled recording had no complete frames; removed", metadata: ["recording.id": "\(id)"])
            } catch {
                logger.error("cannot recover spooled recording", metadata: ["recording.id": "\(id)", "error": "\(error)"])
            }
        }
    }
}

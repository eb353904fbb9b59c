import Foundation
import Logging
import ReelErrors
import ReelMedia
import ReelStorage

/// A recording that was finished and stored.
struct FinishedRecording: Sendable {
    var id: String
    var video: StoredVideo
    var summary: VideoSummary
}

/// Finished recordings on their way to storage: one attempt at a time per
/// recording, and after a failure again later, with growing delays, until
/// stored. A recording left with only its spool and journal (no space to
/// finish) has its video made first.
actor UploadQueue {
    /// Since when storage has not answered (uploads failing on the network or its own errors); nil while it does.
    private(set) var unreachableSince: Date?

    private let list: RecordingList
    private let storage: any VideoStorage
    private let layout: SpoolLayout
    private let freeSpace: FreeSpace
    private let metrics: ServerMetrics
    private let logger: Logger
    private let retryMaxSeconds: Double
    /// Attempts under way: a second caller for the same recording waits for the first's outcome instead of sending it twice.
    private var uploading: [String: Task<Result<FinishedRecording, any Error>, Never>] = [:]

    init(list: RecordingList, storage: any VideoStorage, layout: SpoolLayout, freeSpace: FreeSpace,
         metrics: ServerMetrics, logger: Logger, retryMaxSeconds: Double) {
        self.list = list
        self.storage = storage
        self.layout = layout
        self.freeSpace = freeSpace
        self.metrics = metrics
        self.logger = logger
        self.retryMaxSeconds = retryMaxSeconds
    }

    /// Uploads again every pending recording whose time has come.
    func retryPending(now: Date = Date()) async {
        let pending: [RecordingEntry]
        do { pending = try await list.entries(in: [.pending]) } catch {
            logger.error("cannot read the uploads pending", metadata: ["error": "\(describe(error))"])
            return
        }
        metrics.uploadsPending.set(pending.count)
        // Only those whose video (or spool) is on this server's disk: another's, sharing the catalog, are its own.
        let due = pending.filter {
            ($0.nextAttempt ?? now) <= now && uploading[$0.id] == nil
                && (FileManager.default.fileExists(atPath: layout.pendingVideo($0.id)) || layout.hasSpool($0.id))
        }
        for entry in due.sorted(by: { ($0.nextAttempt ?? now) < ($1.nextAttempt ?? now) }) {
            _ = await upload(entry.id)
        }
    }

    /// One attempt to store a pending MP4. Success deletes the local copy; failure
    /// keeps it with the error and the time of the next attempt.
    func upload(_ id: String) async -> Result<FinishedRecording, any Error> {
        if let underWay = uploading[id] { return await underWay.value }
        let attempt = Task { await self.attempt(id) }
        uploading[id] = attempt
        defer { uploading[id] = nil }
        return await attempt.value
    }

    private func attempt(_ id: String) async -> Result<FinishedRecording, any Error> {
        let listed: RecordingEntry?
        do { listed = try await list.entry(id) } catch { return .failure(error) }
        guard let entry = listed, let name = entry.name else {
            return .failure(RecordingError.unknown(id: id))
        }
        // Stored meanwhile (an attempt that began before this one ended): nothing to send.
        guard entry.state == .pending else { return .failure(RecordingError.alreadyFinished(id: id)) }
        let attempts = entry.attempts + 1
        do {
            try await makePendingVideo(id)
            guard let entry = try await list.entry(id) else { throw MediaError.noFrames }
            let video = try await storage.store(file: layout.pendingVideo(id), name: name)
            await list.update(id) {
                $0.state = .stored
                $0.location = video.location
                $0.locationExpires = video.expires
                $0.bytes = video.bytes
                $0.attempts = attempts
                $0.lastError = nil
                $0.nextAttempt = nil
            }
            // Only once the catalog says "stored": a crash in between leaves a copy, never a loss (the next
            // start finds the copy of a stored recording and removes it).
            if list.isSaved(id) { try? FileManager.default.removeItem(atPath: layout.pendingVideo(id)) }
            unreachableSince = nil
            metrics.uploadsSucceeded.increment()
            metrics.bytesStored.increment(by: video.bytes)
            await notePending()
            if attempts > 1 {
                logger.info("pending recording stored", metadata: [
                    "recording.id": "\(id)", "attempts": "\(attempts)", "name": "\(name)"])
            }
            return .success(FinishedRecording(id: id, video: video, summary: VideoSummary(
                frames: entry.frames, duration: entry.duration, bytes: entry.bytes)))
        } catch {
            let nextAttempt = Date().addingTimeInterval(retryDelay(after: attempts))
            let why = describe(error)
            await list.update(id) {
                guard $0.state == .pending else { return }  // stored meanwhile: that stands
                $0.attempts = attempts
                $0.lastError = why
                $0.nextAttempt = nextAttempt
            }
            // Any answer from storage, even a refusal, means it is reachable.
            unreachableSince = isStorageUnreachable(error) ? (unreachableSince ?? Date()) : nil
            metrics.uploadsFailed.increment()
            await notePending()
            logger.error("storing the recording failed; it is kept and retried", metadata: [
                "recording.id": "\(id)", "attempts": "\(attempts)", "error": "\(describe(error))",
                "retry.seconds": "\(Int(nextAttempt.timeIntervalSinceNow.rounded()))"])
            return .failure(error)
        }
    }

    /// A recording that could not be finished for lack of space has its spool
    /// and journal still: its MP4 is made now, off the actor (it may encode).
    private func makePendingVideo(_ id: String) async throws {
        let video = layout.pendingVideo(id), spool = layout.spool(id)
        guard !FileManager.default.fileExists(atPath: video), layout.hasSpool(id) else { return }
        let summary: VideoSummary
        do {
            summary = try await Task.detached { try SpoolRestorer.restore(spool: spool, to: video) }.value
        } catch {
            try? FileManager.default.removeItem(atPath: video)
            if isDiskFull(error) { freeSpace.invalidate() }
            throw error
        }
        layout.removeSpool(id)
        await list.update(id) { $0.frames = summary.frames; $0.duration = summary.duration; $0.bytes = summary.bytes }
        logger.info("recording finished now that space returned", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
    }

    /// Sets `reel_uploads_pending` from the catalog (left as it was when the database cannot answer).
    func notePending() async {
        if let count = try? await list.pendingCount() { metrics.uploadsPending.set(count) }
    }

    /// Seconds before the next attempt: doubling from 2 s, capped by the retry limit.
    nonisolated func retryDelay(after attempts: Int) -> Double {
        min(retryMaxSeconds, 2 * pow(2, Double(min(attempts - 1, 20))))
    }
}

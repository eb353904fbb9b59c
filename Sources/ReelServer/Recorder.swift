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

/// One page of the list of recordings, newest first.
struct RecordingPage: Sendable {
    var entries: [RecordingEntry]
    var total: Int
    /// The cursor of the next page (the id of this page's last entry), nil on the last page.
    var next: String?
}

/// The recordings of one server: starting them, finding them for a frame,
/// finishing and storing them, retrying uploads that failed, taking up what a
/// crash left in the spool, and the list of every recording there has been.
actor Recorder {
    let settings: ServerSettings
    let storage: any VideoStorage
    let metrics: ServerMetrics
    let freeSpace: FreeSpace
    private let catalog: RecordingCatalog
    private let namer = VideoNamer()
    private let logger: Logger
    private var active: [String: RecordingSession] = [:]
    /// Ids of recordings in progress in the order they were created; the last is "the most recent recording".
    private var order: [String] = []
    /// Every recording the catalog holds, in progress or not.
    private var entries: [String: RecordingEntry] = [:]
    /// The ids of `entries`, newest first.
    private var newestFirst: [String] = []
    /// Pending uploads with an attempt under way, so two ticks never send one twice.
    private var uploading: Set<String> = []
    /// Recordings this process started: recovery, which runs beside the routes, leaves them alone.
    private var startedHere: Set<String> = []
    /// Signed URLs being renewed, and no renewal before this time after one failed.
    private var renewing: Set<String> = []
    private var renewalsPausedUntil = Date.distantPast
    private let layout: SpoolLayout

    init(settings: ServerSettings, storage: any VideoStorage, metrics: ServerMetrics = ServerMetrics(),
         logger: Logger) throws {
        self.settings = settings
        self.storage = storage
        self.metrics = metrics
        self.logger = logger
        layout = SpoolLayout(folder: settings.spoolDirectory)
        try layout.create()
        freeSpace = FreeSpace(path: settings.spoolDirectory, minimum: settings.minFreeBytes)
        let catalog = try RecordingCatalog(folder: settings.recordingsDirectory)
        let (loaded, unreadable) = catalog.loadAll()
        self.catalog = catalog
        entries = Dictionary(loaded.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        newestFirst = loaded.sorted(by: RecordingEntry.newerFirst).map(\.id)
        for name in unreadable {
            logger.warning("recording entry unreadable; skipped", metadata: ["file": "\(catalog.folder)/\(name)"])
        }
    }


    /// Starts a recording; `timing` (constant or arrival) overrides the server's for this one.
    func create(timing: EncoderSettings.Timing? = nil) throws -> RecordingSession {
        guard active.count < settings.limits.maxRecordings else {
            throw RecordingError.tooMany(active: active.count)
        }
        try freeSpace.check()
        let id = UUID().uuidString.lowercased()
        let session: RecordingSession
        do {
            session = try RecordingSession(id: id, spool: layout.spool(id), settings: settings, freeSpace: freeSpace, timing: timing,
                                           observer: metrics.encoderObserver)
        } catch MediaError.diskFull(let path) {
            freeSpace.invalidate()
            throw RecordingError.noSpaceToStart(path: path)
        } catch {
            throw RecordingError.cannotStart(reason: "\(error)")
        }
        active[id] = session
        order.append(id)
        startedHere.insert(id)
        // The time as saved (whole milliseconds): the entry read back after a restart is the same.
        let created = RecordingCatalog.date(RecordingCatalog.timestamp(session.createdAt)) ?? session.createdAt
        record(RecordingEntry(id: id, created: created, state: .recording))
        newestFirst.insert(id, at: 0)
        metrics.recordingsActive.set(active.count)
        logger.info("recording started", metadata: ["recording.id": "\(id)"])
        return session
    }

    /// The recording a request names, or the most recent one when it names none.
    func session(_ id: String?) throws -> RecordingSession {
        guard let id else {
            guard let latest = order.last, let session = active[latest] else {
                throw RecordingError.noneInProgress
            }
            return session
        }
        if let session = active[id] { return session }
        if entries[id] != nil { throw RecordingError.alreadyFinished(id: id) }
        throw RecordingError.unknown(id: id)
    }

    var activeCount: Int { active.count }

    /// Why the server cannot take a recording now; empty when it can.
    func notReadyReasons() -> [String] {
        var reasons: [String] = []
        let free = freeSpace.bytesFree
        if free < freeSpace.minimum {
            reasons.append(LowDiskSpace(path: layout.folder, bytesFree: free, minimum: freeSpace.minimum).description)
        }
        let open = DescriptorLimit.open, limit = DescriptorLimit.current
        if open * 10 >= limit * 9 {
            reasons.append("\(open) of \(limit) file descriptors are open")
        }
        if active.count >= settings.limits.maxRecordings {
            reasons.append("\(active.count) recordings are in progress, the limit (--max-recordings)")
        }
        return reasons
    }

    /// A recording whose encoder failed takes no more frames: it is finished
    /// at once with what it has (the journal holds what the spool lacks).
    func finishIfFailed(_ session: RecordingSession) async {
        guard session.encoderFailed, active[session.id] != nil else { return }
        _ = try? await finish(session.id, reason: "encoder failed")
    }

    /// Ids of recordings idle longer than the limit.
    func idleRecordings() -> [String] {
        let limit = Duration.seconds(settings.limits.idleSeconds)
        return active.values.filter { $0.idleTime() > limit }.map(\.id)
    }

    /// Where a recording stands, with its frames so far while it records and a
    /// video URL that still plays.
    func entry(_ id: String) async -> RecordingEntry? {
        await renewExpiringLocation(id)
        guard var entry = entries[id] else { return nil }
        if let session = active[id] {
            entry.frames = session.frames
            entry.duration = Double(session.frames) / Double(settings.encoder.fps)
        }
        return entry
    }

    /// A signed URL near its end is signed again, so a listed video always plays.
    /// When storage cannot sign now, the old URL stays and the next look tries again.
    private func renewExpiringLocation(_ id: String) async {
        guard let entry = entries[id], entry.state == .stored, let name = entry.name,
              let expires = entry.locationExpires else { return }
        let lifetime = storage.locationLifetime ?? .infinity
        guard expires.timeIntervalSinceNow < min(3600, lifetime / 2), !renewing.contains(id),
              renewalsPausedUntil < Date() else { return }
        renewing.insert(id)
        defer { renewing.remove(id) }
        do {
            let (location, newExpiry) = try await storage.playableLocation(of: name)
            update(id) { $0.location = location; $0.locationExpires = newExpiry }
        } catch {
            // Storage is away: lists answer at once with the old URLs for a while.
            renewalsPausedUntil = Date().addingTimeInterval(60)
            logger.warning("cannot renew the video's URL", metadata: ["recording.id": "\(id)", "error": "\(error)"])
        }
    }

    /// A page of recordings, newest first, after the recording `before` (a cursor from an earlier page).
    func list(limit: Int, before: String? = nil) async throws -> RecordingPage {
        var start = 0
        if let before {
            guard let index = newestFirst.firstIndex(of: before) else {
                throw RecordingError.unknownCursor(id: before)
            }
            start = index + 1
        }
        let ids = Array(newestFirst[start..<min(newestFirst.count, start + limit)])
        let next = start + ids.count < newestFirst.count ? ids.last : nil
        var page: [RecordingEntry] = []
        for id in ids {
            if let entry = await entry(id) { page.append(entry) }
        }
        return RecordingPage(entries: page, total: newestFirst.count, next: next)
    }

    /// The thumbnail's file, once the recording has one.
    func thumbnailPath(_ id: String) -> String? {
        entries[id]?.hasThumbnail == true ? catalog.thumbnailPath(id: id) : nil
    }

    var pendingCount: Int { entries.values.filter { $0.state == .pending }.count }

    /// Finishes a recording: flush the encoder, remux to faststart, make the
    /// thumbnail, store. When storing fails the MP4 stays pending and is uploaded again later.
    func finish(_ id: String?, reason: String = "finish") async throws -> FinishedRecording {
        let session = try session(id)
        let clock = ContinuousClock.now
        active[session.id] = nil
        order.removeAll { $0 == session.id }
        metrics.recordingsActive.set(active.count)
        update(session.id) { $0.state = .finishing; $0.frames = session.frames }
        let summary: VideoSummary
        do {
            summary = try await session.finish(to: layout.pendingVideo(session.id))
        } catch MediaError.noFrames {
            forget(session.id)
            logger.warning("recording ended without frames", metadata: ["recording.id": "\(session.id)"])
            throw MediaError.noFrames
        } catch let error where isDiskFull(error) {
            // Spool and journal stay: the video is made and stored when space returns.
            freeSpace.invalidate()
            let hasThumbnail = saveThumbnail(session.id) { try session.thumbnail() }
            let nextAttempt = Date().addingTimeInterval(retryDelay(after: 1))
            update(session.id) {
                $0.state = .pending
                $0.name = $0.name ?? namer.nextName()
                $0.frames = session.frames
                $0.duration = Double(session.frames) / Double(settings.encoder.fps)
                $0.hasThumbnail = hasThumbnail
                $0.attempts = 1
                $0.lastError = "\(error)"
                $0.nextAttempt = nextAttempt
            }
            metrics.uploadsPending.set(pendingCount)
            logger.error("no space to finish the recording; it is kept and finished when space returns",
                         metadata: ["recording.id": "\(session.id)", "error": "\(error)", "frames": "\(session.frames)"])
            throw RecordingError.noSpaceToFinish(id: session.id, frames: session.frames, reason: "\(error)")
        } catch let error as MediaError {
            // The spool stays: the next start tries to recover what it holds.
            update(session.id) { $0.state = .failed; $0.lastError = "\(error)" }
            logger.error("recording failed", metadata: ["recording.id": "\(session.id)", "error": "\(error)"])
            throw error
        }
        let hasThumbnail = saveThumbnail(session.id) { try session.thumbnail() }
        update(session.id) {
            $0.state = .pending
            $0.name = namer.nextName()
            $0.frames = summary.frames
            $0.duration = summary.duration
            $0.bytes = summary.bytes
            $0.hasThumbnail = hasThumbnail
        }
        let outcome = await upload(session.id)
        let elapsed = ContinuousClock.now - clock
        metrics.finishTime.record(duration: elapsed)
        logger.info("recording finished", metadata: [
            "recording.id": "\(session.id)", "reason": "\(reason)", "frames": "\(summary.frames)",
            "seconds": "\(String(format: "%.2f", summary.duration))", "bytes": "\(summary.bytes)",
            "encode.fps": "\(String(format: "%.1f", session.encodeFPS))",
            "finish.ms": "\(elapsed.inMilliseconds)",
            "name": "\(entries[session.id]?.name ?? "")",
        ])
        // The last recording gone: what the encoders freed goes back to the system.
        if active.isEmpty { ProcessMemory.releaseFreed() }
        switch outcome {
        case .success(let result):
            return result
        case .failure(let error):
            throw RecordingError.storingFailed(id: session.id, reason: "\(error)")
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
        let due = entries.values.filter {
            $0.state == .pending && ($0.nextAttempt ?? now) <= now && !uploading.contains($0.id)
        }
        for entry in due.sorted(by: { ($0.nextAttempt ?? now) < ($1.nextAttempt ?? now) }) {
            _ = await upload(entry.id)
        }
    }

    /// One attempt to store a pending MP4. Success deletes the local copy; failure
    /// keeps it with the error and the time of the next attempt.
    private func upload(_ id: String) async -> Result<FinishedRecording, any Error> {
        guard let entry = entries[id], let name = entry.name else {
            return .failure(RecordingError.unknown(id: id))
        }
        uploading.insert(id)
        defer { uploading.remove(id) }
        let attempts = entry.attempts + 1
        do {
            try await makePendingVideo(id)
            guard let entry = entries[id] else { throw MediaError.noFrames }
            let video = try await storage.store(file: layout.pendingVideo(id), name: name)
            update(id) {
                $0.state = .stored
                $0.location = video.location
                $0.locationExpires = video.expires
                $0.bytes = video.bytes
                $0.attempts = attempts
                $0.lastError = nil
                $0.nextAttempt = nil
            }
            // Only once the entry says "stored": a crash in between leaves a copy, never a loss.
            try? FileManager.default.removeItem(atPath: layout.pendingVideo(id))
            metrics.uploadsSucceeded.increment()
            metrics.bytesStored.increment(by: video.bytes)
            metrics.uploadsPending.set(pendingCount)
            if attempts > 1 {
                logger.info("pending recording stored", metadata: [
                    "recording.id": "\(id)", "attempts": "\(attempts)", "name": "\(name)"])
            }
            return .success(FinishedRecording(id: id, video: video, summary: VideoSummary(
                frames: entry.frames, duration: entry.duration, bytes: entry.bytes)))
        } catch {
            let nextAttempt = Date().addingTimeInterval(retryDelay(after: attempts))
            update(id) {
                $0.state = .pending
                $0.attempts = attempts
                $0.lastError = "\(error)"
                $0.nextAttempt = nextAttempt
            }
            metrics.uploadsFailed.increment()
            metrics.uploadsPending.set(pendingCount)
            logger.error("storing the recording failed; it is kept and retried", metadata: [
                "recording.id": "\(id)", "attempts": "\(attempts)", "error": "\(error)",
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
        update(id) { $0.frames = summary.frames; $0.duration = summary.duration; $0.bytes = summary.bytes }
        logger.info("recording finished now that space returned", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
    }

    /// Seconds before the next attempt: doubling from 2 s, capped by the retry limit.
    private func retryDelay(after attempts: Int) -> Double {
        min(settings.retryMaxSeconds, 2 * pow(2, Double(min(attempts - 1, 20))))
    }

    /// Takes up what an earlier process left: recordings in progress (fragmented
    /// MP4, cut after their last complete fragment and remuxed) become pending
    /// uploads, and pending uploads are tried again at once.
    func recoverSpool() {
        let files = FileManager.default
        for id in layout.recordingsInProgress() where !startedHere.contains(id) {
            let path = layout.spool(id)
            let lastWritten = files.fileExists(atPath: path) ? modificationDate(path) : modificationDate(layout.journal(id))
            do {
                let summary = try SpoolRestorer.restore(spool: path, to: layout.pendingVideo(id))
                layout.removeSpool(id)
                takeUp(id, summary: summary, created: lastWritten)
                logger.info("recording recovered from the spool", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
            } catch MediaError.noFrames {
                layout.removeSpool(id)
                try? files.removeItem(atPath: layout.pendingVideo(id))
                forget(id)
                logger.info("spooled recording had no complete frames; removed", metadata: ["recording.id": "\(id)"])
            } catch {
                try? files.removeItem(atPath: layout.pendingVideo(id))
                let diskFull = isDiskFull(error)
                update(id, createdIfNew: lastWritten) {
                    // Without space it waits, spool and journal kept, for the next attempt.
                    $0.state = diskFull ? .pending : .failed
                    $0.name = $0.name ?? (diskFull ? namer.nextName() : nil)
                    $0.lastError = "\(error)"
                    $0.nextAttempt = diskFull ? Date().addingTimeInterval(retryDelay(after: 1)) : nil
                }
                logger.error("cannot recover spooled recording", metadata: ["recording.id": "\(id)", "error": "\(error)"])
            }
        }
        for id in layout.pendingVideos() where !startedHere.contains(id) {
            let path = layout.pendingVideo(id)
            switch entries[id]?.state {
            case .pending:
                update(id) { $0.nextAttempt = Date() }
            case .stored:
                try? files.removeItem(atPath: path)  // stored, then a crash before the copy was deleted
            default:
                // Remuxed but never marked pending: a crash in between; or a pending
                // upload from before the catalog, its object name in a sidecar.
                let sidecar = layout.legacySidecar(id)
                let legacy = files.contents(atPath: sidecar).flatMap { try? JSONDecoder().decode(LegacySidecar.self, from: $0) }
                if let summary = try? MP4Remuxer.probe(path) {
                    takeUp(id, summary: summary, created: modificationDate(path), name: legacy?.name)
                    try? files.removeItem(atPath: sidecar)
                }
            }
        }
        // Recordings that were in progress and left nothing behind had no frames.
        for entry in entries.values where entry.state == .recording || entry.state == .finishing {
            if !startedHere.contains(entry.id) { forget(entry.id) }
        }
        metrics.uploadsPending.set(pendingCount)
    }

    /// A recovered MP4 becomes a pending upload, due at once, with a thumbnail
    /// decoded from the video itself (no decoded frame survived the crash).
    private func takeUp(_ id: String, summary: VideoSummary, created: Date, name: String? = nil) {
        let video = layout.pendingVideo(id)
        let hasThumbnail = entries[id]?.hasThumbnail == true
            || saveThumbnail(id) { try VideoFrame.picture(inMP4: video, at: 1).jpegThumbnail() }
        update(id, createdIfNew: created) {
            $0.hasThumbnail = hasThumbnail
            $0.state = .pending
            $0.name = $0.name ?? name ?? namer.nextName()
            $0.frames = summary.frames
            $0.duration = summary.duration
            $0.bytes = summary.bytes
            $0.nextAttempt = Date()
        }
    }

    private func saveThumbnail(_ id: String, _ make: () throws -> [UInt8]?) -> Bool {
        do {
            guard let jpeg = try make() else { return false }
            try catalog.saveThumbnail(jpeg, id: id)
            return true
        } catch {
            logger.warning("no thumbnail for the recording", metadata: ["recording.id": "\(id)", "error": "\(error)"])
            return false
        }
    }

    /// Changes an entry (a new one, created at `createdIfNew`, when there is none) and saves it.
    private func update(_ id: String, createdIfNew: Date = Date(), _ change: (inout RecordingEntry) -> Void) {
        var entry = entries[id] ?? RecordingEntry(id: id, created: createdIfNew, state: .pending)
        if entries[id] == nil {
            let index = newestFirst.firstIndex { entries[$0].map { RecordingEntry.newerFirst(entry, $0) } ?? false }
            newestFirst.insert(id, at: index ?? newestFirst.endIndex)
        }
        change(&entry)
        record(entry)
    }

    private func record(_ entry: RecordingEntry) {
        entries[entry.id] = entry
        do {
            try catalog.save(entry)
        } catch {
            logger.error("cannot save the recording's entry", metadata: ["recording.id": "\(entry.id)", "error": "\(error)"])
        }
    }

    private func forget(_ id: String) {
        entries[id] = nil
        newestFirst.removeAll { $0 == id }
        catalog.remove(id: id)
    }

    private func modificationDate(_ path: String) -> Date {
        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
    }
}

/// The sidecar a pending upload had before recordings were catalogued; its
/// object name is kept so the upload stores the object it always meant to.
private struct LegacySidecar: Decodable {
    var name: String
}

import Foundation
import Logging
import ReelErrors
import ReelMedia
import ReelStorage

/// The recordings in progress of one server: starting them within the
/// limits, finding the one a frame is for, finishing them into the list and
/// onto the upload queue. The list of every recording (`RecordingList`), the
/// uploads (`UploadQueue`), URLs signed again (`LocationRenewal`) and what a
/// crash left (`SpoolRecovery`) are their own types.
actor Recorder {
    let settings: ServerSettings
    let storage: any VideoStorage
    let metrics: ServerMetrics
    let freeSpace: FreeSpace
    private let recordings: RecordingList
    private let uploads: UploadQueue
    private let layout: SpoolLayout
    private let namer = VideoNamer()
    private let logger: Logger
    private var active: [String: RecordingSession] = [:]
    /// Ids of recordings in progress in the order they were created; the last is "the most recent recording".
    private var order: [String] = []
    private let renewal: LocationRenewal
    private let removal: RecordingRemoval
    private let retention: Retention
    private var capacity: EncoderCapacity
    /// The recordings that can be watched while they record.
    nonisolated let live = LiveViews()
    /// Events waiting for the webhook, when there is one.
    nonisolated var outbox: WebhookOutbox? { recordings.outbox }
    /// The servers sharing the catalog, this one among them.
    nonisolated let instances: InstanceRegistry
    /// Stopping: the recordings in progress are finished, no new one starts.
    private var draining = false

    /// The time now, for idle limits: the continuous clock, or a test's own.
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Opens the catalog (`CatalogOpening`) and the spool.
    init(settings: ServerSettings, storage: any VideoStorage, metrics: ServerMetrics = ServerMetrics(), logger: Logger,
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) async throws {
        self.settings = settings
        self.now = now
        self.storage = storage
        self.metrics = metrics
        self.logger = logger
        capacity = EncoderCapacity(settings: settings, logger: logger)
        metrics.encoderCapacity.set(capacity.cores)
        layout = SpoolLayout(folder: settings.spoolDirectory)
        try layout.create()
        freeSpace = FreeSpace(path: settings.spoolDirectory, minimum: settings.minFreeBytes)
        let catalog = try await CatalogOpening(settings: settings, logger: logger)
        (recordings, instances) = (catalog.recordings, catalog.instances)
        uploads = UploadQueue(list: recordings, storage: storage, layout: layout, freeSpace: freeSpace, metrics: metrics,
                              logger: logger, retryMaxSeconds: settings.retryMaxSeconds)
        renewal = LocationRenewal(recordings: recordings, storage: storage, logger: logger)
        removal = RecordingRemoval(recordings: recordings, storage: storage, layout: layout, metrics: metrics, logger: logger)
        retention = Retention(settings: settings, spoolDisk: freeSpace, storage: storage, recordings: recordings, removal: removal,
                              passes: metrics.retentionPasses, logger: logger)
    }

    /// Starts a recording; `timing` (constant or arrival) overrides the server's for this one.
    /// `id`: the client's choice (a lowercased UUID), so a load balancer can route its first request; else one is made.
    func create(id requested: String? = nil, timing: EncoderSettings.Timing? = nil) async throws -> RecordingSession {
        guard !draining else { throw RecordingError.stopping(instance: settings.instanceID) }
        if let requested, active[requested] != nil { throw RecordingError.idTaken(id: requested) }
        guard active.count < settings.limits.maxRecordings else {
            metrics.recordingsRefused(.maxRecordings).increment()
            throw RecordingError.tooMany(active: active.count)
        }
        do { try freeSpace.check() } catch {
            metrics.recordingsRefused(.insufficientStorage).increment()
            throw error
        }
        let id = requested ?? UUID().uuidString.lowercased()
        let preset: String
        do { preset = try capacity.admit(id) } catch {
            metrics.recordingsRefused(.encodersFull).increment()
            logger.warning("recording refused: \(error)")
            throw error
        }
        // The entry first, by an insert that only one server can make for an id: a client's id asked
        // for twice, here or on another server sharing the catalog, is 409 for all but the first.
        var entry = RecordingEntry(id: id, created: Timestamp.date(milliseconds: Timestamp.milliseconds(Date())), state: .recording)
        entry.preset = preset
        entry.instance = settings.instanceID
        do { try await recordings.add(entry) } catch {
            capacity.release(id)
            throw error
        }
        let session: RecordingSession
        do {
            session = try RecordingSession(id: id, spool: layout.spool(id), settings: settings, freeSpace: freeSpace, timing: timing,
                                           preset: preset, observer: metrics.encoderObserver, now: now)
        } catch MediaError.diskFull(let path) {
            capacity.release(id)
            await recordings.forget(id)
            freeSpace.invalidate()
            throw RecordingError.noSpaceToStart(path: path)
        } catch {
            capacity.release(id)
            await recordings.forget(id)
            throw RecordingError.cannotStart(reason: "\(describe(error))")
        }
        do {
            live.add(try LiveSpool(id: id, path: session.spoolPath, index: session.fragments))
        } catch {
            logger.warning("recording cannot be watched live", metadata: ["recording.id": "\(id)", "error": "\(describe(error))"])
        }
        active[id] = session
        order.append(id)
        metrics.recordingsActive.set(active.count)
        metrics.recordingsStarted(preset)?.increment()
        logger.info("recording started", metadata: [
            "recording.id": "\(id)", "preset": "\(preset)",
            "load.cores": "\(String(format: "%.2f of %.2f", capacity.load, capacity.cores))",
        ])
        return session
    }

    /// Learns what recordings cost from the CPU time they spent since the last call.
    func measureLoad() {
        capacity.sample(Array(active.values))
    }

    /// The recording a request names, or the most recent one when it names none.
    func session(_ id: String?) async throws -> RecordingSession {
        guard let id else { return try await mostRecentSession() }
        if let session = active[id] { return session }
        guard let entry = try await recordings.entry(id) else { throw RecordingError.unknown(id: id) }
        try await instances.refuseIfRecordedElsewhere(entry)
        throw RecordingError.alreadyFinished(id: id)
    }

    /// "The most recent recording" of the original service. With a catalog shared by several servers
    /// it is the newest in progress on any of them (one on another server is relayed there), so an old
    /// client's requests may land on any server behind a load balancer. While the catalog cannot
    /// answer, or the newest one's server is lost, this server's own newest.
    private func mostRecentSession() async throws -> RecordingSession {
        let own = order.last.flatMap { active[$0] }
        if settings.databaseURL != nil, let newest = try? await recordings.newestInProgress() {
            if let session = active[newest.id] { return session }
            do {
                try await instances.refuseIfRecordedElsewhere(newest)
            } catch RecordingError.instanceLost where own != nil {
                // Its server is away: this one's own recording takes the frames.
            }
        }
        guard let own else { throw RecordingError.noneInProgress }
        return own
    }

    /// Says this server is up (at start and on the janitor's tick), draining or gone (when it stops:
    /// then it starts no recording).
    func beat(_ state: InstanceRegistry.State = .up) async {
        if state != .up { draining = true }
        await instances.beat(state)
    }

    var activeCount: Int { active.count }

    /// Why the server cannot take a recording now; empty when it can.
    func notReadyReasons() async -> [String] {
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
        if let full = capacity.refusal { reasons.append(full.description) }
        if let since = await uploads.unreachableSince {
            reasons.append("storage unreachable since \(Timestamp.text(since))")
        }
        if let pending = try? await recordings.pendingCount(), pending > settings.maxPending {
            reasons.append("recordings waiting for upload: \(pending), over --max-pending \(settings.maxPending)")
        }
        return reasons
    }

    /// A recording whose encoder failed takes no more frames: it is finished
    /// at once with what it has (the journal holds what the spool lacks).
    func finishIfFailed(_ session: RecordingSession) async {
        guard session.encoderFailed, active[session.id] != nil else { return }
        _ = try? await finish(session.id, reason: "encoder failed")
    }

    /// The spool of a recording to watch live: one in progress, or ended a moment ago.
    func liveSpool(_ id: String) async throws -> LiveSpool {
        guard let entry = try await recordings.entry(id) else {
            live.remove(id)  // deleted, or ended without frames
            throw RecordingError.unknown(id: id)
        }
        if let spool = live.spool(id) {
            spool.noteWatched()
            return spool
        }
        try await instances.refuseIfRecordedElsewhere(entry)
        throw RecordingError.notLive(id: id, state: entry.state.rawValue)
    }

    /// Ids of recordings idle longer than the limit.
    func idleRecordings() -> [String] {
        let limit = Duration.seconds(settings.limits.idleSeconds)
        return active.values.filter { $0.idleTime() > limit }.map(\.id)
    }

    /// Where a recording stands, with its frames so far while it records and a
    /// video URL that still plays.
    func entry(_ id: String) async throws -> RecordingEntry? {
        guard let entry = try await recordings.entry(id) else { return nil }
        if active[id] == nil {
            // Its frames so far are known to the server that records it; a lost one's, as the catalog has them.
            do {
                try await instances.refuseIfRecordedElsewhere(entry)
            } catch let error as RecordingError where error.isRecordedElsewhere {
                throw error
            } catch {}
        }
        return await current(entry)
    }

    /// An entry as it stands now: its URL renewed when near its end, its frames so far while it records.
    private func current(_ entry: RecordingEntry) async -> RecordingEntry {
        var entry = entry
        if let renewed = await renewal.renewIfExpiring(entry) { entry = renewed }
        if let session = active[entry.id] {
            entry.frames = session.frames
            entry.duration = Double(session.frames) / Double(settings.encoder.fps)
        }
        return entry
    }

    /// A page of recordings, newest first, after the recording `before` (a cursor from an earlier page).
    func list(limit: Int, before: String? = nil) async throws -> RecordingPage {
        var page = try await recordings.page(limit: limit, before: before)
        var entries: [RecordingEntry] = []
        for entry in page.entries { entries.append(await current(entry)) }
        page.entries = entries
        return page
    }

    /// Deletes a stored or failed recording (see `RecordingRemoval`).
    @discardableResult
    func delete(_ id: String, reason: DeletionReason) async throws -> RecordingEntry {
        let deleted = try await removal.delete(id, reason: reason)
        live.remove(id)
        return deleted
    }

    /// `/metrics`: the gauges read now, then every instrument.
    func metricsExposition() async -> [UInt8] {
        // Kept as they were when the database cannot answer: the rest still reads.
        if let stored = try? await recordings.storedTotals() {
            metrics.storedRecordings.set(stored.count)
            metrics.storedBytes.set(stored.bytes)
        }
        if let waiting = try? await recordings.outbox?.count() { metrics.webhooksPending.set(waiting) }
        let free = freeSpace.bytesFree
        if free != Int.max { metrics.diskFree.set(free) }
        metrics.encoderLag.set(active.values.map { $0.encoderLag.inSeconds }.max() ?? 0)
        metrics.encoderLoad.set(capacity.load)
        for preset in settings.presetPolicy.choices { metrics.presetCost(preset)?.set(capacity.costs.cores(preset)) }
        return metrics.exposition()
    }

    /// Deletes what the retention rules no longer keep.
    @discardableResult
    func applyRetention(now: Date = Date()) async -> Int { await retention.apply(now: now) }

    /// The thumbnail's JPEG, once the recording has one.
    func thumbnail(_ id: String) async throws -> [UInt8]? { try await recordings.thumbnail(id) }

    func pendingCount() async throws -> Int { try await recordings.pendingCount() }

    /// Finishes a recording: flush the encoder, remux to faststart, make the
    /// thumbnail, store. When storing fails the MP4 stays pending and is uploaded again later.
    func finish(_ id: String?, reason: String = "finish") async throws -> FinishedRecording {
        let session = try await session(id)
        let clock = ContinuousClock.now
        active[session.id] = nil
        order.removeAll { $0 == session.id }
        capacity.sample(Array(active.values) + [session])
        capacity.release(session.id)
        metrics.recordingsActive.set(active.count)
        let framesReceived = session.frames
        await recordings.update(session.id) { $0.state = .finishing; $0.frames = framesReceived }
        let summary: VideoSummary
        do {
            // The spool is complete (or its encoder gave up): its viewers see the end now, not after the upload.
            defer { live.ended(session.id) }
            summary = try await session.finish(to: layout.pendingVideo(session.id))
        } catch MediaError.noFrames {
            await recordings.forget(session.id)
            logger.warning("recording ended without frames", metadata: ["recording.id": "\(session.id)"])
            throw MediaError.noFrames
        } catch let error where isDiskFull(error) {
            // Spool and journal stay: the video is made and stored when space returns.
            freeSpace.invalidate()
            let hasThumbnail = await recordings.saveThumbnail(session.id) { try session.thumbnail() }
            let nextAttempt = Date().addingTimeInterval(uploads.retryDelay(after: 1))
            let name = namer.nextName(), frames = session.frames, fps = settings.encoder.fps, why = describe(error)
            await recordings.update(session.id) {
                $0.state = .pending
                $0.name = $0.name ?? name
                $0.frames = frames
                $0.duration = Double(frames) / Double(fps)
                $0.hasThumbnail = hasThumbnail
                $0.attempts = 1
                $0.lastError = why
                $0.nextAttempt = nextAttempt
            }
            await uploads.notePending()
            logger.error("no space to finish the recording; it is kept and finished when space returns",
                         metadata: ["recording.id": "\(session.id)", "error": "\(describe(error))", "frames": "\(session.frames)"])
            throw RecordingError.noSpaceToFinish(id: session.id, frames: session.frames, reason: "\(describe(error))")
        } catch let error as MediaError {
            // The spool stays: the next start tries to recover what it holds.
            let why = describe(error)
            await recordings.update(session.id) { $0.state = .failed; $0.lastError = why }
            logger.error("recording failed", metadata: ["recording.id": "\(session.id)", "error": "\(describe(error))"])
            throw error
        }
        let hasThumbnail = await recordings.saveThumbnail(session.id) { try session.thumbnail() }
        let name = namer.nextName()
        await recordings.update(session.id) {
            $0.state = .pending
            $0.name = name
            $0.frames = summary.frames
            $0.duration = summary.duration
            $0.bytes = summary.bytes
            $0.hasThumbnail = hasThumbnail
        }
        let outcome = await uploads.upload(session.id)
        let elapsed = ContinuousClock.now - clock
        metrics.finishTime.record(duration: elapsed)
        logger.info("recording finished", metadata: [
            "recording.id": "\(session.id)", "reason": "\(reason)", "frames": "\(summary.frames)",
            "seconds": "\(String(format: "%.2f", summary.duration))", "bytes": "\(summary.bytes)",
            "preset": "\(session.preset)",
            "encode.fps": "\(String(format: "%.1f", session.encodeFPS))",
            "cpu.ms.per.frame": "\(session.cpuPerFrameSummary)",
            "finish.ms": "\(elapsed.inMilliseconds)",
            "name": "\(name)",
        ])
        // The last recording gone: what the encoders freed goes back to the system.
        if active.isEmpty { ProcessMemory.releaseFreed() }
        switch outcome {
        case .success(let result):
            return result
        case .failure(let error):
            throw RecordingError.storingFailed(id: session.id, reason: "\(describe(error))")
        }
    }

    /// Finishes every recording in progress (the server is stopping), and says what became of them.
    @discardableResult
    func finishAll(reason: String) async -> ShutdownTally {
        var tally = ShutdownTally()
        for id in order {
            do {
                _ = try await finish(id, reason: reason)
                tally.stored += 1
            } catch RecordingError.storingFailed, RecordingError.noSpaceToFinish {
                tally.pending += 1
            } catch MediaError.noFrames {
                tally.empty += 1
            } catch {
                tally.failed += 1
            }
        }
        tally.pendingUploads = (try? await recordings.pendingCount()) ?? 0
        capacity.save()
        return tally
    }

    /// Uploads again every pending recording whose time has come.
    func retryPending(now: Date = Date()) async {
        await recordings.saveUnsaved()
        await uploads.retryPending(now: now)
    }

    /// Takes up what an earlier process left in the spool; run before the server takes requests.
    func recoverSpool() async {
        await SpoolRecovery(list: recordings, layout: layout, uploads: uploads, namer: namer, metrics: metrics,
                            instance: settings.instanceID, logger: logger).run()
    }

    /// Closes the catalog's database: the last thing a stopping server does.
    func closeCatalog() async {
        await recordings.close()
    }
}

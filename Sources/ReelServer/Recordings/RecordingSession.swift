import Foundation
import NIOCore
import ReelMedia

/// One recording in progress: its encoder, its limits, and the serial queue
/// that decodes its frames off the request path's cooperative threads.
final class RecordingSession: @unchecked Sendable {
    let id: String
    let createdAt = Date()
    let spoolPath: String
    private let recording: Recording
    private let settings: ServerSettings
    private let freeSpace: FreeSpace
    /// Decoding and the encoder's back-pressure block a thread: this queue's, not Swift's pool.
    private let work: DispatchQueue
    private let lock = NSLock()
    /// The time now: the continuous clock, or a test's own.
    private let now: @Sendable () -> ContinuousClock.Instant
    private var lastActivity: ContinuousClock.Instant
    private var accepted = 0
    private let started: ContinuousClock.Instant
    private var firstClientTimestamp: Int64?
    /// Set when finish begins: a frame still on its way is refused, never appended after.
    private var finishing = false
    /// Uploads whose body is still arriving: the recording is not idle meanwhile.
    private var receiving = 0
    /// When the frames admitted and not yet handed to the recording arrived, for the encoder's lag.
    private var inFlight: [ContinuousClock.Instant] = []

    /// The x264 preset this recording encodes with.
    var preset: String { settings.encoder.preset }

    /// `timing` overrides the server's frame timing for this recording alone, `preset` its x264 preset.
    /// `spool` is the recording's file in the spool folder (`SpoolLayout.spool`).
    init(id: String, spool: String, settings: ServerSettings, freeSpace: FreeSpace, timing: EncoderSettings.Timing? = nil,
         preset: String? = nil, observer: EncoderObserver = EncoderObserver(),
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) throws {
        self.id = id
        self.now = now
        started = now()
        lastActivity = started
        self.freeSpace = freeSpace
        var settings = settings
        if let timing { settings.encoder.timing = timing }
        if let preset { settings.encoder.preset = preset }
        self.settings = settings
        spoolPath = spool
        recording = try Recording(spoolPath: spoolPath, settings: settings.encoder, fit: settings.fit,
                                  maxFrameSize: settings.limits.maxFrameSize,
                                  queueCapacity: settings.limits.encoderQueue, journaled: true, observer: observer)
        work = DispatchQueue(label: "reel.recording.\(id)")
    }

    var frames: Int { lock.withLock { accepted } }

    /// The encoder failed: the recording takes no more frames and is finished with what it has.
    /// (The journal refusing a frame for lack of space leaves it going.)
    var encoderFailed: Bool { recording.encoderFailed }

    func idleTime() -> Duration {
        let now = now()
        return lock.withLock { receiving > 0 ? .zero : now - lastActivity }
    }

    /// Runs `body` (reading an upload's body) as activity: a slow upload is not an idle recording.
    func receiving<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        lock.withLock { receiving += 1 }
        defer { lock.withLock { receiving -= 1; lastActivity = now() } }
        return try await body()
    }

    /// Decodes and queues one frame; answers once it is decoded (or refused).
    /// `clientTimestamp` (ms, any origin) sets the frame's time with `--timing arrival`.
    func append(_ jpeg: ByteBuffer, clientTimestamp: Int64?) async throws {
        let pts = try admit(clientTimestamp: clientTimestamp)
        let received = ContinuousClock.now
        lock.withLock { inFlight.append(received) }
        defer { lock.withLock { _ = inFlight.remove(at: inFlight.firstIndex(of: received)!) } }
        try await onWorkQueue {
            // Finish may have been queued while this frame's body was read.
            guard !self.lock.withLock({ self.finishing }) else { throw MediaError.recordingFinished }
            do {
                try jpeg.withUnsafeReadableBytes { try self.recording.append(jpeg: $0, pts: pts, received: received) }
            } catch MediaError.diskFull(let path) {
                self.freeSpace.invalidate()  // the next frame reads the disk again
                throw MediaError.diskFull(path: path)
            }
        }
        lock.withLock {
            accepted += 1
            lastActivity = now()
        }
    }

    /// Encodes what is queued and writes the faststart MP4 to `output`.
    func finish(to output: String) async throws -> VideoSummary {
        lock.withLock { finishing = true }
        return try await onWorkQueue { try self.recording.finish(to: output) }
    }

    /// The spool's complete fragments, for its live view.
    var fragments: FragmentIndex { recording.fragments }

    /// A small JPEG of the recording for lists; nil when it has no frame.
    func thumbnail() throws -> [UInt8]? { try recording.thumbnail() }

    /// How long the oldest frame received and not yet encoded has waited: above a
    /// frame's time, the recording falls behind its camera.
    var encoderLag: Duration {
        let oldest = lock.withLock { inFlight.min() }
        return max(oldest.map { ContinuousClock.now - $0 } ?? .zero, recording.encoderLag)
    }

    /// The CPU time its frames have cost so far.
    var cpu: RecordingCPU { recording.cpu }

    /// Milliseconds of CPU per frame, x264's and decoding's, for the log.
    var cpuPerFrameSummary: String {
        let cpu = cpu, frames = Double(max(1, cpu.framesIn))
        return String(format: "x264 %.1f, decode %.1f", cpu.encode.inSeconds * 1000 / frames, cpu.append.inSeconds * 1000 / frames)
    }

    /// Frames encoded per second the encoder was busy: how far from its limit it ran.
    var encodeFPS: Double {
        let busy = recording.encodeSeconds
        return busy > 0 ? Double(frames) / busy : 0
    }

    /// Checks the limits before any work and gives the frame its presentation time.
    private func admit(clientTimestamp: Int64?) throws -> Int64? {
        try lock.withLock {
            lastActivity = now()
            guard !finishing else { throw MediaError.recordingFinished }
            try freeSpace.check()
            let limits = settings.limits
            guard accepted < limits.maxFramesPerRecording else {
                throw RecordingError.frameLimit(id: id, frames: limits.maxFramesPerRecording)
            }
            let elapsed = now() - started
            guard elapsed < .seconds(limits.maxSecondsPerRecording) else {
                throw RecordingError.timeLimit(id: id, seconds: limits.maxSecondsPerRecording)
            }
            guard settings.encoder.timing == .timestamps else { return nil }
            if let clientTimestamp {
                let first = firstClientTimestamp ?? clientTimestamp
                // A client clock far off (or hostile) must not make a video longer than a recording may last.
                let span = Int64(limits.maxSecondsPerRecording) * 1000
                let (offset, overflow) = clientTimestamp.subtractingReportingOverflow(first)
                guard !overflow, (-span...span).contains(offset) else {
                    throw RecordingError.timestampOutOfRange(id: id, timestamp: clientTimestamp, first: first,
                                                             seconds: limits.maxSecondsPerRecording)
                }
                firstClientTimestamp = first
                return offset
            }
            return elapsed.inMilliseconds
        }
    }

    private func onWorkQueue<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            work.async { continuation.resume(with: Swift.Result { try body() }) }
        }
    }
}

import Foundation

/// What a recording's encoder reports as it works, for whoever counts it (a
/// server's metrics); ReelMedia itself keeps no statistics beyond its totals.
public struct EncoderObserver: Sendable {
    /// A frame went through the encoder, taking this long.
    public var frameEncoded: @Sendable (Duration) -> Void
    /// A frame had to wait for room in the encoder's queue (back-pressure).
    public var waitedForEncoder: @Sendable () -> Void

    public init(frameEncoded: @escaping @Sendable (Duration) -> Void = { _ in },
                waitedForEncoder: @escaping @Sendable () -> Void = {}) {
        self.frameEncoded = frameEncoded
        self.waitedForEncoder = waitedForEncoder
    }
}

/// One recording: JPEG frames in, a faststart MP4 out.
///
/// `append` checks and decodes a frame on the caller's thread, so a bad frame
/// gets its error at once and nothing else changes; encoding runs behind it on
/// the recording's own thread through a small bounded queue. When the encoder
/// falls behind, `append` waits: frames are never dropped.
///
/// With a journal, each frame's JPEG is written to it before `append` returns:
/// a frame accepted survives a killed process or an encoder that fails (a full
/// disk), and `finish` (or `SpoolRestorer` after a crash) encodes it again.
public final class Recording: @unchecked Sendable {
    public let spoolPath: String
    public let settings: EncoderSettings
    private let decoder: FrameDecoder
    private let encoder: VideoEncoder
    private let queue: EncodeQueue
    private let journal: FrameJournal?
    /// Appends run one at a time, so journal, clock and encoder see frames in one order.
    private let appendLock = NSLock()
    private var clock = FrameClock()
    private let decodeLock = NSLock()
    private var decodeTime = Duration.zero
    /// Apart from `appendLock`, which an append holds while it waits for the encoder.
    private let cpuLock = NSLock()
    private var appendCPU = Duration.zero
    private var framesDecoded = 0
    /// The picture a thumbnail is made from, kept small (the encoder's picture goes
    /// back to the pool): the frame one second in (a camera's first frames are often
    /// dark while its exposure settles), or the first.
    private var thumbnailPicture: Result<VideoFrame, Error>?
    static let thumbnailKeptWidth = 640

    public init(spoolPath: String, settings: EncoderSettings = EncoderSettings(), fit: FitMode = .fit,
                maxFrameSize: FrameSize = FrameSize(width: 7680, height: 4320), queueCapacity: Int = 4,
                journaled: Bool = false, observer: EncoderObserver = EncoderObserver()) throws {
        self.spoolPath = spoolPath
        self.settings = settings
        // A recording that keeps up has a picture or two in flight; a backlog's extra pictures are freed.
        decoder = FrameDecoder(outputSize: settings.size, outputRange: settings.range, fit: fit, maxSize: maxFrameSize,
                               spare: 2)
        do {
            journal = journaled ? try FrameJournal(folder: FrameJournal.folder(forSpool: spoolPath),
                                                   settings: JournalSettings(settings, fit: fit)) : nil
            encoder = try VideoEncoder(path: spoolPath, settings: settings)
        } catch {
            // Nothing half made stays behind: no empty spool for recovery to find.
            try? FileManager.default.removeItem(atPath: spoolPath)
            try? FileManager.default.removeItem(atPath: FrameJournal.folder(forSpool: spoolPath))
            throw isDiskFull(error) ? MediaError.diskFull(path: spoolPath) : error
        }
        if let journal { encoder.onDurable = { journal.discard(before: $0) } }
        queue = EncodeQueue(encoder: encoder, capacity: queueCapacity, pool: decoder.pool, observer: observer)
    }

    /// Decodes one JPEG frame, journals it and queues it for encoding. Frame
    /// errors (`MediaError.refusesOnlyTheFrame`) leave the recording as it was.
    /// `received` is when the frame reached the process, for `encoderLag`.
    public func append(jpeg: UnsafeRawBufferPointer, pts: Int64? = nil, received: ContinuousClock.Instant = .now) throws {
        try appendLock.withLock {
            var spent = Duration.zero
            defer { cpuLock.withLock { appendCPU += spent } }
            try CPUTime.measure(&spent) { try appendFrame(jpeg, pts: pts, received: received) }
        }
    }

    private func appendFrame(_ jpeg: UnsafeRawBufferPointer, pts: Int64?, received: ContinuousClock.Instant) throws {
        let picture = try decodeLock.withLock {
            let start = ContinuousClock.now
            defer { decodeTime += ContinuousClock.now - start }
            return try decoder.decode(jpeg)
        }
        try encoderStep { try queue.checkRunning() }
        let time = clock.peek(pts, ticksPerFrame: settings.ticksPerFrame)
        try journal?.append(jpeg: jpeg, pts: time)
        clock.advance(pts, to: time)
        decodeLock.withLock {
            if framesDecoded == 0 || framesDecoded == settings.fps {
                thumbnailPicture = Result { try picture.reduced(toWidth: Self.thumbnailKeptWidth) }
            }
            framesDecoded += 1
        }
        try encoderStep { try queue.push(picture, pts: time, received: received) }
    }

    /// The encoder's failure for lack of space reads as the spool's disk being full.
    private func encoderStep(_ step: () throws -> Void) throws {
        do { try step() } catch where isDiskFull(error) { throw MediaError.diskFull(path: spoolPath) }
    }

    public func append(jpeg: [UInt8], pts: Int64? = nil) throws {
        try jpeg.withUnsafeBytes { try append(jpeg: $0, pts: pts) }
    }

    /// A recording dropped without `finish` still encodes what it was given and
    /// closes its spool, which then plays and can be recovered.
    deinit { try? queue.finish() }

    /// Frames accepted so far.
    public var frameCount: Int { queue.pushed }

    /// True once the encoder has failed: the recording takes no more frames,
    /// and `finish` makes its video from spool and journal.
    public var encoderFailed: Bool { queue.hasFailed }

    /// The spool's complete fragments, for watching the recording while it records.
    public var fragments: FragmentIndex { encoder.fragments }

    /// Bytes the journal has written (frames and headers); 0 without one.
    public var journalBytes: Int { journal?.bytesWritten ?? 0 }

    /// Seconds the encoder spent on this recording's frames (flush included once finished).
    public var encodeSeconds: Double { queue.encodeSeconds }

    /// Seconds spent decoding and scaling frames, refused ones included.
    public var decodeSeconds: Double { decodeLock.withLock { decodeTime.inSeconds } }

    /// CPU time this recording has cost so far: `encode` on its encoder's thread
    /// (x264 and the muxer, when x264 runs on one thread), `append` on the callers'
    /// (decoding, scaling, the journal), and the frames encoded in that time.
    public var cpu: RecordingCPU {
        let append = cpuLock.withLock { appendCPU }
        return queue.cpu(append: append)
    }

    /// How long the oldest frame given to `append` and not yet encoded has waited; zero when none waits.
    public var encoderLag: Duration { queue.lag(now: .now) }

    /// A small JPEG of one of the recording's frames (see `VideoFrame.jpegThumbnail`),
    /// at most `thumbnailKeptWidth` wide; nil before the first frame.
    public func thumbnail(width: Int = 320, quality: Int = 80) throws -> [UInt8]? {
        try decodeLock.withLock { try thumbnailPicture?.get().jpegThumbnail(width: width, quality: quality) }
    }

    /// Encodes what is queued, closes the spool and writes the faststart MP4 to
    /// `output`; spool and journal are removed once it is written. When the
    /// encoder had failed, the journal's frames make up what the spool lacks.
    /// When writing fails (a full disk), spool and journal stay for
    /// `SpoolRestorer` to try again, and no partial `output` is left.
    public func finish(to output: String) throws -> VideoSummary {
        let encoderFailure: Error?
        do { try queue.finish(); encoderFailure = nil } catch { encoderFailure = error }
        if encoderFailure == nil, encoder.framesEncoded == 0 {
            discardFiles()
            throw MediaError.noFrames
        }
        // Without a journal, what the encoder lost cannot be made up.
        if let encoderFailure, journal == nil { throw encoderFailure }
        do {
            let summary = encoderFailure == nil ? try MP4Remuxer.faststart(from: spoolPath, to: output)
                : try SpoolRestorer.restore(spool: spoolPath, to: output)
            discardFiles()
            return summary
        } catch {
            try? FileManager.default.removeItem(atPath: output)
            throw isDiskFull(error) ? MediaError.diskFull(path: output) : error
        }
    }

    private func discardFiles() {
        try? FileManager.default.removeItem(atPath: spoolPath)
        journal?.remove()
    }
}

/// Gives frames their presentation times: one tick after another, or the
/// caller's times moved so the first frame is at 0 and each is after the last.
struct FrameClock {
    private var first: Int64?
    private var last: Int64 = -1

    /// The time the next frame gets, without taking it.
    func peek(_ requested: Int64?, ticksPerFrame: Int64) -> Int64 {
        guard let requested else { return last < 0 ? 0 : last + ticksPerFrame }
        return max(requested - (first ?? requested), last + 1)
    }

    mutating func advance(_ requested: Int64?, to time: Int64) {
        if first == nil, let requested { first = requested }
        last = time
    }
}

/// What a recording's frames have cost in CPU time so far.
public struct RecordingCPU: Equatable, Sendable {
    /// Frames handed to x264.
    public var framesIn: Int
    /// Frames x264 gave back encoded: `encode` is their cost (x264 holds its lookahead's frames first).
    public var framesOut: Int
    /// x264 and the muxer, on the recording's encoder thread.
    public var encode: Duration
    /// Decoding, scaling and journaling, on the threads that appended.
    public var append: Duration

    public init(framesIn: Int = 0, framesOut: Int = 0, encode: Duration = .zero, append: Duration = .zero) {
        self.framesIn = framesIn
        self.framesOut = framesOut
        self.encode = encode
        self.append = append
    }
}

/// A bounded queue of pictures and the thread that encodes them.
final class EncodeQueue: @unchecked Sendable {
    private struct Item {
        var picture: VideoFrame
        var pts: Int64?
        var received: ContinuousClock.Instant
    }

    private let encoder: VideoEncoder
    private let capacity: Int
    private let pool: FramePool
    private let observer: EncoderObserver
    private let condition = NSCondition()
    private var pending: [Item] = []
    /// When the frame being encoded now was received; nil between frames.
    private var encoding: ContinuousClock.Instant?
    /// When the frames whose `push` waits for room were received.
    private var waiting: [ContinuousClock.Instant] = []
    private var closed = false
    private var failure: Error?
    private var done = false
    private(set) var pushed = 0
    private var encodeTime = Duration.zero
    private var encodeCPU = Duration.zero
    private var encoded = 0
    private var packetsOut = 0

    var encodeSeconds: Double { condition.withLock { encodeTime.inSeconds } }

    init(encoder: VideoEncoder, capacity: Int, pool: FramePool, observer: EncoderObserver) {
        self.encoder = encoder
        self.capacity = max(1, capacity)
        self.pool = pool
        self.observer = observer
        // The thread keeps the queue alive until the encoder is flushed.
        let thread = Thread { self.run() }
        thread.name = "reel-encoder"
        thread.start()
    }

    var hasFailed: Bool { condition.withLock { failure != nil } }

    func cpu(append: Duration) -> RecordingCPU {
        condition.withLock { RecordingCPU(framesIn: encoded, framesOut: packetsOut, encode: encodeCPU, append: append) }
    }

    /// How long the oldest frame not yet encoded has waited.
    func lag(now: ContinuousClock.Instant) -> Duration {
        condition.withLock {
            let oldest = [encoding, pending.first?.received, waiting.min()].compactMap { $0 }.min()
            return oldest.map { now - $0 } ?? .zero
        }
    }

    /// Throws the encoder's failure, or that the recording is finished.
    func checkRunning() throws {
        try condition.withLock {
            if let failure { throw failure }
            if closed { throw MediaError.recordingFinished }
        }
    }

    func push(_ picture: VideoFrame, pts: Int64?, received: ContinuousClock.Instant) throws {
        condition.lock()
        defer { condition.unlock() }
        if pending.count >= capacity {
            observer.waitedForEncoder()
            waiting.append(received)
            while pending.count >= capacity && failure == nil && !closed { condition.wait() }
            waiting.remove(at: waiting.firstIndex(of: received)!)
        }
        if let failure { throw failure }
        if closed { throw MediaError.recordingFinished }
        pending.append(Item(picture: picture, pts: pts, received: received))
        pushed += 1
        condition.broadcast()
    }

    /// Waits for the queue to drain and the encoder to flush.
    func finish() throws {
        condition.lock()
        closed = true
        condition.broadcast()
        while !done { condition.wait() }
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty {
                condition.unlock()
                break
            }
            var item = pending.removeFirst()
            encoding = item.received
            condition.broadcast()
            condition.unlock()
            let start = ContinuousClock.now
            var cpu = Duration.zero
            do {
                try CPUTime.measure(&cpu) { try encoder.encode(item.picture, pts: item.pts) }
            } catch {
                fail(error)
                return
            }
            let elapsed = ContinuousClock.now - start
            let out = encoder.packetsWritten
            condition.withLock {
                encodeTime += elapsed
                encodeCPU += cpu
                encoded += 1
                packetsOut = out
                encoding = nil
            }
            observer.frameEncoded(elapsed)
            pool.recycle(&item.picture)
        }
        let start = ContinuousClock.now
        var cpu = Duration.zero
        do { try CPUTime.measure(&cpu) { try encoder.finish() } } catch { fail(error); return }
        condition.lock()
        encodeTime += ContinuousClock.now - start
        encodeCPU += cpu
        packetsOut = encoder.packetsWritten
        done = true
        condition.broadcast()
        condition.unlock()
    }

    private func fail(_ error: Error) {
        // Nothing more reaches the spool: whoever watches it has seen all there will be.
        encoder.fragments.end()
        condition.lock()
        failure = error
        done = true
        encoding = nil
        pending.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

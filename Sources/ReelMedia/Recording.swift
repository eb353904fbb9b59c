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
public final class Recording: @unchecked Sendable {
    public let spoolPath: String
    public let settings: EncoderSettings
    private let decoder: FrameDecoder
    private let encoder: VideoEncoder
    private let queue: EncodeQueue
    private let decodeLock = NSLock()
    private var decodeTime = Duration.zero
    private var framesDecoded = 0
    /// The picture a thumbnail is made from: the frame one second in (a camera's
    /// first frames are often dark while its exposure settles), or the first.
    private var thumbnailPicture: VideoFrame?

    public init(spoolPath: String, settings: EncoderSettings = EncoderSettings(), fit: FitMode = .fit,
                maxFrameSize: FrameSize = FrameSize(width: 7680, height: 4320), queueCapacity: Int = 4,
                observer: EncoderObserver = EncoderObserver()) throws {
        self.spoolPath = spoolPath
        self.settings = settings
        decoder = FrameDecoder(outputSize: settings.size, outputRange: settings.range, fit: fit, maxSize: maxFrameSize)
        encoder = try VideoEncoder(path: spoolPath, settings: settings)
        queue = EncodeQueue(encoder: encoder, capacity: queueCapacity, observer: observer)
    }

    /// Decodes one JPEG frame and queues it for encoding. Frame errors
    /// (`MediaError.refusesOnlyTheFrame`) leave the recording as it was.
    public func append(jpeg: UnsafeRawBufferPointer, pts: Int64? = nil) throws {
        let picture = try decodeLock.withLock {
            let start = ContinuousClock.now
            defer { decodeTime += ContinuousClock.now - start }
            let picture = try decoder.decode(jpeg)
            if framesDecoded == 0 || framesDecoded == settings.fps { thumbnailPicture = picture }
            framesDecoded += 1
            return picture
        }
        try queue.push(picture, pts: pts)
    }

    public func append(jpeg: [UInt8], pts: Int64? = nil) throws {
        try jpeg.withUnsafeBytes { try append(jpeg: $0, pts: pts) }
    }

    /// A recording dropped without `finish` still encodes what it was given and
    /// closes its spool, which then plays and can be recovered.
    deinit { try? queue.finish() }

    /// Frames accepted so far.
    public var frameCount: Int { queue.pushed }

    /// Seconds the encoder spent on this recording's frames (flush included once finished).
    public var encodeSeconds: Double { queue.encodeSeconds }

    /// Seconds spent decoding and scaling frames, refused ones included.
    public var decodeSeconds: Double { decodeLock.withLock { decodeTime.inSeconds } }

    /// A small JPEG of one of the recording's frames (see `VideoFrame.jpegThumbnail`);
    /// nil before the first frame. The encoder only reads its pictures, so
    /// keeping one costs no copy.
    public func thumbnail(width: Int = 320, quality: Int = 80) throws -> [UInt8]? {
        try decodeLock.withLock { try thumbnailPicture?.jpegThumbnail(width: width, quality: quality) }
    }

    /// Encodes what is queued, closes the spool and writes the faststart MP4 to `output`.
    /// The spool file is removed once the MP4 is written.
    public func finish(to output: String) throws -> VideoSummary {
        try queue.finish()
        guard encoder.framesEncoded > 0 else {
            try? FileManager.default.removeItem(atPath: spoolPath)
            throw MediaError.noFrames
        }
        let summary = try MP4Remuxer.faststart(from: spoolPath, to: output)
        try? FileManager.default.removeItem(atPath: spoolPath)
        return summary
    }
}

/// A bounded queue of pictures and the thread that encodes them.
final class EncodeQueue: @unchecked Sendable {
    private let encoder: VideoEncoder
    private let capacity: Int
    private let observer: EncoderObserver
    private let condition = NSCondition()
    private var pending: [(VideoFrame, Int64?)] = []
    private var closed = false
    private var failure: Error?
    private var done = false
    private(set) var pushed = 0
    private var encodeTime = Duration.zero

    var encodeSeconds: Double { condition.withLock { encodeTime.inSeconds } }

    init(encoder: VideoEncoder, capacity: Int, observer: EncoderObserver) {
        self.encoder = encoder
        self.capacity = max(1, capacity)
        self.observer = observer
        // The thread keeps the queue alive until the encoder is flushed.
        let thread = Thread { self.run() }
        thread.name = "reel-encoder"
        thread.start()
    }

    func push(_ picture: VideoFrame, pts: Int64?) throws {
        condition.lock()
        defer { condition.unlock() }
        if pending.count >= capacity { observer.waitedForEncoder() }
        while pending.count >= capacity && failure == nil && !closed { condition.wait() }
        if let failure { throw failure }
        if closed { throw MediaError.recordingFinished }
        pending.append((picture, pts))
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
            let (picture, pts) = pending.removeFirst()
            condition.broadcast()
            condition.unlock()
            let start = ContinuousClock.now
            do {
                try encoder.encode(picture, pts: pts)
            } catch {
                fail(error)
                return
            }
            observer.frameEncoded(addEncodeTime(since: start))
        }
        let start = ContinuousClock.now
        do { try encoder.finish() } catch { fail(error); return }
        addEncodeTime(since: start)
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    @discardableResult
    private func addEncodeTime(since start: ContinuousClock.Instant) -> Duration {
        let elapsed = ContinuousClock.now - start
        condition.withLock { encodeTime += elapsed }
        return elapsed
    }

    private func fail(_ error: Error) {
        condition.lock()
        failure = error
        done = true
        pending.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

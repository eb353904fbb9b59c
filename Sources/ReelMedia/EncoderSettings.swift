/// The levels the H.264 stream carries. JPEG samples are full range (0-255).
public enum ColorRange: String, CaseIterable, Sendable {
    /// Video levels (16-235): what every player expects; samples are converted.
    case limited
    /// JPEG levels kept as they are, the stream flagged full range.
    case full
}

/// How frames become H.264: picture size, rate, and x264's speed/quality trade.
public struct EncoderSettings: Equatable, Sendable {
    /// How presentation times are given to frames.
    public enum Timing: String, CaseIterable, Sendable {
        /// Each frame lasts exactly one tick of 1/fps, whenever it arrived.
        case constantRate = "constant"
        /// Each frame carries its own time in milliseconds (arrival or client clock).
        case timestamps = "arrival"
    }

    public var size: FrameSize
    public var fps: Int
    /// x264 preset; `veryfast` keeps several 720p recordings in real time on 2 cores.
    public var preset: String
    /// x264 constant rate factor: lower is better quality and bigger files.
    public var crf: Int
    /// Seconds between keyframes, so the file seeks well.
    public var keyframeInterval: Int
    /// x264 threads; 0 lets x264 choose from the core count.
    public var threads: Int
    public var timing: Timing
    public var range: ColorRange

    public init(size: FrameSize = .hd720, fps: Int = 27, preset: String = "veryfast", crf: Int = 23,
                keyframeInterval: Int = 2, threads: Int = 0, timing: Timing = .constantRate,
                range: ColorRange = .limited) {
        self.size = size
        self.fps = fps
        self.preset = preset
        self.crf = crf
        self.keyframeInterval = keyframeInterval
        self.threads = threads
        self.timing = timing
        self.range = range
    }

    public static let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                 "slow", "slower", "veryslow"]

    /// Ticks per second of the codec's time base.
    var timeScale: Int32 { timing == .constantRate ? Int32(fps) : 1000 }
    /// Ticks one frame lasts when nothing else says so.
    var ticksPerFrame: Int64 { timing == .constantRate ? 1 : Int64(max(1, (1000 + fps / 2) / fps)) }
}

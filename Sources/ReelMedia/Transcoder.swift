import Foundation

/// Turns a list of JPEG files into one MP4, skipping frames that cannot be used.
public struct Transcoder {
    public struct Progress: Sendable {
        public var framesEncoded: Int
        public var framesSkipped: Int
        public var elapsed: Double
    }

    public struct Result: Sendable {
        public var video: VideoSummary
        public var skipped: [(file: String, error: MediaError)]
        /// Milliseconds per frame spent decoding JPEG to the encoder's picture.
        public var decodeMilliseconds: Double
        /// Seconds from the first frame read to the MP4 written.
        public var elapsed: Double
        public var encodeFPS: Double { elapsed > 0 ? Double(video.frames) / elapsed : 0 }
    }

    public var settings: EncoderSettings
    public var fit: FitMode

    public init(settings: EncoderSettings = EncoderSettings(), fit: FitMode = .fit) {
        self.settings = settings
        self.fit = fit
    }

    /// The JPEG files named by `inputs`: files as given, folders expanded to
    /// their `.jpg`/`.jpeg` files sorted by name.
    public static func frameFiles(in inputs: [String]) throws -> [String] {
        let files = FileManager.default
        return try inputs.flatMap { input -> [String] in
            var isFolder: ObjCBool = false
            guard files.fileExists(atPath: input, isDirectory: &isFolder) else {
                throw MediaError.file(path: input, message: "no such file or folder")
            }
            guard isFolder.boolValue else { return [input] }
            return try files.contentsOfDirectory(atPath: input)
                .filter { ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
                .map { (input as NSString).appendingPathComponent($0) }
        }
    }

    /// Encodes `files` into `output`. The spool is written next to the output
    /// and removed at the end. `onSkip` hears of each refused frame as it happens.
    public func run(files: [String], output: String,
                    onSkip: (String, MediaError) -> Void = { _, _ in },
                    onProgress: (Progress) -> Void = { _ in }) throws -> Result {
        let spool = output + ".spool.mp4"
        let recording = try Recording(spoolPath: spool, settings: settings, fit: fit)
        let clock = ContinuousClock()
        let start = clock.now
        var skipped: [(String, MediaError)] = []
        var lastReport = start
        for file in files {
            do {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                try recording.append(jpeg: bytes)
            } catch let error as MediaError where error.refusesOnlyTheFrame {
                skipped.append((file, error))
                onSkip(file, error)
            }
            let now = clock.now
            if now - lastReport > .milliseconds(500) {
                lastReport = now
                onProgress(Progress(framesEncoded: recording.frameCount, framesSkipped: skipped.count,
                                    elapsed: (now - start).inSeconds))
            }
        }
        let video = try recording.finish(to: output)
        let decodeMilliseconds = recording.decodeSeconds * 1000 / Double(max(1, files.count))
        return Result(video: video, skipped: skipped, decodeMilliseconds: decodeMilliseconds,
                      elapsed: (clock.now - start).inSeconds)
    }
}

extension Duration {
    /// The duration in seconds, for figures and for APIs that take a `TimeInterval`.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, for timestamps and C timeouts.
    public var inMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

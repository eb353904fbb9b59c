import Configuration
import Foundation
import ReelMedia
import ReelStorage

/// Everything `reel serve` can be told, with the defaults a user gets.
public struct ServerSettings: Sendable {
    public var host = "0.0.0.0"
    public var port = 3001
    /// Base of the URLs answered for stored videos; without it, the request's Host.
    public var publicURL: String?
    /// Where finished videos are stored when no Supabase is configured.
    public var storageDirectory = "data/videos"
    /// Where recordings in progress are written (fragmented MP4, survives a crash).
    public var spoolDirectory = "data/spool"
    /// Where each recording's entry and thumbnail are kept, for the list of recordings.
    public var recordingsDirectory = "data/recordings"
    /// When set, every route but the CORS preflight and `/healthz` needs it as a bearer token.
    public var token: String?
    public var limits = Limits()
    public var encoder = EncoderSettings(threads: 2)
    public var fit = FitMode.fit
    /// Supabase Storage, when `SUPABASE_URL`, `SUPABASE_KEY` and `BUCKET_NAME` are all set.
    public var supabase: SupabaseStorage.Configuration?
    /// The longest wait between two attempts to upload a pending recording.
    public var retryMaxSeconds = 60.0
    /// Below this many free bytes on the spool's disk, no recording starts and no frame is taken (507).
    public var minFreeBytes = 1 << 30
    /// A connection with no request, or a request whose headers or body stall, is closed after this long.
    public var connectionIdleSeconds = 30.0
    /// Connections open at once; nil: as many as the descriptor limit allows with room kept for files.
    public var maxConnections: Int?

    public struct Limits: Sendable {
        public var maxFrameBytes = 8 * 1024 * 1024
        public var maxFrameSize = FrameSize(width: 4096, height: 4096)
        public var maxFramesPerRecording = 27 * 60 * 60
        public var maxSecondsPerRecording = 60 * 60
        public var maxRecordings = 16
        /// A recording with no frame for this long is finished and stored.
        public var idleSeconds = 60.0
        /// Frames decoded and waiting for the encoder, per recording, before uploads wait.
        public var encoderQueue = 8

        public init() {}
    }

    public init() {}
}

extension ServerSettings {
    /// The configuration keys; each is also an environment variable (`reel.port` is `REEL_PORT`).
    public enum Key {
        public static let host: ConfigKey = "reel.host"
        public static let port: ConfigKey = "reel.port"
        public static let publicURL: ConfigKey = "reel.public.url"
        public static let storageDirectory: ConfigKey = "reel.storage.dir"
        public static let spoolDirectory: ConfigKey = "reel.spool.dir"
        public static let recordingsDirectory: ConfigKey = "reel.recordings.dir"
        public static let token: ConfigKey = "reel.token"
        public static let maxFrameBytes: ConfigKey = "reel.max.frame.bytes"
        public static let maxFrameSize: ConfigKey = "reel.max.frame.size"
        public static let maxFrames: ConfigKey = "reel.max.frames"
        public static let maxSeconds: ConfigKey = "reel.max.seconds"
        public static let maxRecordings: ConfigKey = "reel.max.recordings"
        public static let idleSeconds: ConfigKey = "reel.idle.seconds"
        public static let fps: ConfigKey = "reel.fps"
        public static let size: ConfigKey = "reel.size"
        public static let preset: ConfigKey = "reel.preset"
        public static let crf: ConfigKey = "reel.crf"
        public static let threads: ConfigKey = "reel.threads"
        public static let fit: ConfigKey = "reel.fit"
        public static let timing: ConfigKey = "reel.timing"
        public static let range: ConfigKey = "reel.range"
        public static let supabaseURL: ConfigKey = "supabase.url"
        public static let supabaseKey: ConfigKey = "supabase.key"
        public static let bucketName: ConfigKey = "bucket.name"
        public static let bucketPublic: ConfigKey = "reel.bucket.public"
        public static let signedURLSeconds: ConfigKey = "reel.signed.url.seconds"
        public static let resumableBytes: ConfigKey = "reel.resumable.bytes"
        public static let retryMaxSeconds: ConfigKey = "reel.retry.max.seconds"
        public static let minFree: ConfigKey = "reel.min.free"
        public static let connectionIdleSeconds: ConfigKey = "reel.connection.idle.seconds"
        public static let maxConnections: ConfigKey = "reel.max.connections"
    }

    /// Reads the settings, falling back to the defaults above for what the reader lacks.
    public init(reader: ConfigReader) throws {
        self.init()
        host = reader.string(forKey: Key.host, default: host)
        port = reader.int(forKey: Key.port, default: port)
        publicURL = reader.string(forKey: Key.publicURL).map { String($0.trimmingSuffix("/")) }
        storageDirectory = reader.string(forKey: Key.storageDirectory, default: storageDirectory)
        spoolDirectory = reader.string(forKey: Key.spoolDirectory, default: spoolDirectory)
        recordingsDirectory = reader.string(forKey: Key.recordingsDirectory, default: recordingsDirectory)
        token = reader.string(forKey: Key.token, isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        limits.maxFrameBytes = reader.int(forKey: Key.maxFrameBytes, default: limits.maxFrameBytes)
        limits.maxFrameSize = try Self.parse(reader.string(forKey: Key.maxFrameSize), Key.maxFrameSize, FrameSize.init) ?? limits.maxFrameSize
        limits.maxFramesPerRecording = reader.int(forKey: Key.maxFrames, default: limits.maxFramesPerRecording)
        limits.maxSecondsPerRecording = reader.int(forKey: Key.maxSeconds, default: limits.maxSecondsPerRecording)
        limits.maxRecordings = reader.int(forKey: Key.maxRecordings, default: limits.maxRecordings)
        limits.idleSeconds = reader.double(forKey: Key.idleSeconds, default: limits.idleSeconds)
        encoder.fps = reader.int(forKey: Key.fps, default: encoder.fps)
        encoder.size = try Self.parse(reader.string(forKey: Key.size), Key.size, FrameSize.init) ?? encoder.size
        encoder.preset = reader.string(forKey: Key.preset, default: encoder.preset)
        encoder.crf = reader.int(forKey: Key.crf, default: encoder.crf)
        encoder.threads = reader.int(forKey: Key.threads, default: encoder.threads)
        fit = try Self.parse(reader.string(forKey: Key.fit), Key.fit, FitMode.init(rawValue:)) ?? fit
        encoder.timing = try Self.parse(reader.string(forKey: Key.timing), Key.timing, EncoderSettings.Timing.init(rawValue:)) ?? encoder.timing
        encoder.range = try Self.parse(reader.string(forKey: Key.range), Key.range, ColorRange.init(rawValue:)) ?? encoder.range
        retryMaxSeconds = reader.double(forKey: Key.retryMaxSeconds, default: retryMaxSeconds)
        minFreeBytes = try Self.parse(reader.string(forKey: Key.minFree), Key.minFree, ByteCount.parse) ?? minFreeBytes
        connectionIdleSeconds = reader.double(forKey: Key.connectionIdleSeconds, default: connectionIdleSeconds)
        maxConnections = reader.int(forKey: Key.maxConnections)
        supabase = try Self.supabase(reader)
        try validate()
    }

    /// The original service's three names; all or none.
    private static func supabase(_ reader: ConfigReader) throws -> SupabaseStorage.Configuration? {
        let url = reader.string(forKey: Key.supabaseURL).flatMap { $0.isEmpty ? nil : $0 }
        let key = reader.string(forKey: Key.supabaseKey, isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        let bucket = reader.string(forKey: Key.bucketName).flatMap { $0.isEmpty ? nil : $0 }
        guard url != nil || key != nil || bucket != nil else { return nil }
        guard let url, let key, let bucket else {
            let missing = [(url, Key.supabaseURL), (key, Key.supabaseKey), (bucket, Key.bucketName)].filter { $0.0 == nil }.map(\.1)
            throw SettingsError(key: missing[0], problem: "is missing: Supabase needs SUPABASE_URL, SUPABASE_KEY and BUCKET_NAME")
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw SettingsError(key: Key.supabaseURL, problem: "must start with http:// or https://")
        }
        var configuration = SupabaseStorage.Configuration(url: url, key: key, bucket: bucket)
        configuration.publicBucket = reader.bool(forKey: Key.bucketPublic)
        configuration.signedURLSeconds = reader.int(forKey: Key.signedURLSeconds, default: configuration.signedURLSeconds)
        configuration.resumableThreshold = reader.int(forKey: Key.resumableBytes, default: configuration.resumableThreshold)
        return configuration
    }

    private static func parse<Value>(_ text: String?, _ key: ConfigKey, _ make: (String) -> Value?) throws -> Value? {
        guard let text else { return nil }
        guard let value = make(text) else { throw SettingsError(key: key, problem: "cannot use \"\(text)\"") }
        return value
    }

    public func validate() throws {
        func require(_ condition: Bool, _ key: ConfigKey, _ problem: String) throws {
            if !condition { throw SettingsError(key: key, problem: problem) }
        }
        try require((1...65535).contains(port), Key.port, "must be 1-65535")
        try require((1...240).contains(encoder.fps), Key.fps, "must be 1-240")
        try require((0...51).contains(encoder.crf), Key.crf, "must be 0-51")
        try require(EncoderSettings.presets.contains(encoder.preset), Key.preset,
                    "must be one of \(EncoderSettings.presets.joined(separator: ", "))")
        try require(encoder.size.width % 2 == 0 && encoder.size.height % 2 == 0 && encoder.size.width >= 16
                     && encoder.size.height >= 16, Key.size, "must be even and at least 16x16")
        try require(encoder.threads >= 0, Key.threads, "must not be negative")
        try require(limits.maxFrameBytes > 0, Key.maxFrameBytes, "must be positive")
        try require(limits.maxFramesPerRecording > 0, Key.maxFrames, "must be positive")
        try require(limits.maxSecondsPerRecording > 0, Key.maxSeconds, "must be positive")
        try require(limits.maxRecordings > 0, Key.maxRecordings, "must be positive")
        try require(limits.idleSeconds > 0, Key.idleSeconds, "must be positive")
        try require(retryMaxSeconds >= 1, Key.retryMaxSeconds, "must be at least 1")
        try require(connectionIdleSeconds > 0, Key.connectionIdleSeconds, "must be positive")
        try require((maxConnections ?? 1) > 0, Key.maxConnections, "must be positive")
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public var key: ConfigKey
    public var problem: String
    public var description: String {
        "\(key.components.joined(separator: ".")) (\(key.components.joined(separator: "_").uppercased())) \(problem)"
    }
}

extension StringProtocol {
    func trimmingSuffix(_ suffix: String) -> SubSequence {
        var text = self[...]
        while text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        return text
    }
}

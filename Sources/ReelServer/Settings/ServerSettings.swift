import Configuration
import Foundation
import Logging
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
    /// Where the catalog's SQLite file is kept (`catalog.sqlite`), and where an older version's entries are imported from.
    public var recordingsDirectory = "data/recordings"
    /// The catalog in PostgreSQL (`postgres://user:password@host:port/database`) instead of the SQLite file.
    public var databaseURL: String?
    /// This server among those sharing a catalog: the recordings it records are its own to recover.
    public var instanceID = ServerSettings.hostName
    /// Where the other servers sharing the catalog reach this one; nil: `http://<host>:<port>`.
    public var advertiseURL: String?
    /// Seconds without a heartbeat after which a server sharing the catalog is taken as lost.
    public var instanceTimeout = 15.0
    /// The catalog's SQLite file, when no `databaseURL` is given.
    public var catalogFile: String { recordingsDirectory + "/catalog.sqlite" }
    /// When set, every route but the CORS preflight and `/healthz` needs it as a bearer token.
    public var token: String?
    public var limits = Limits()
    /// x264 on one thread per recording: many recordings share the cores best that way.
    public var encoder = EncoderSettings(threads: 1)
    public var presetPolicy = PresetPolicy.auto(slowest: "veryfast", fastest: "ultrafast")
    /// Cores the recordings may use under `--preset auto`; nil: 90% of the cores the process may run on.
    public var encoderCores: Double?
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
    /// More recordings than this waiting for upload make `/readyz` say not ready.
    public var maxPending = 100
    /// Stored recordings older than this many days are deleted; nil keeps them.
    public var keepDays: Double?
    /// While stored recordings total more than this, the oldest are deleted; nil keeps them.
    public var keepBytes: Int?
    /// Receives a POST of JSON for each recording stored, failed or deleted.
    public var webhookURL: String?
    /// Signs each webhook's body (HMAC-SHA256) so the receiver can check it.
    public var webhookSecret: String?
    /// Settings given that the others make meaningless, said so at start.
    public var ignored: [String] = []
    public var logLevel = Logger.Level.info
    public var logFormat = LogFormat.text

    public struct Limits: Sendable {
        public var maxFrameBytes = 8 * 1024 * 1024
        public var maxFrameSize = FrameSize(width: 4096, height: 4096)
        public var maxFramesPerRecording = 27 * 60 * 60
        public var maxSecondsPerRecording = 60 * 60
        public var maxRecordings = 16
        /// A recording with no frame for this long is finished and stored.
        public var idleSeconds = 60.0
        /// Frames decoded and waiting for the encoder, per recording, before uploads wait:
        /// 150 ms of video at 27 fps, 1.4 MB a 720p picture.
        public var encoderQueue = 4

        public init() {}
    }

    public init() {}
}

extension ServerSettings {
    /// Reads every setting strictly (see `SettingReader`), keeping the defaults above for those not given.
    public init(reader config: ConfigReader) throws {
        self.init()
        let read = SettingReader(config)
        // Bounds keep every value far from overflowing what it is multiplied into.
        let day = 86400.0, year = 365 * 86400
        let seconds = "a number of seconds above 0 and at most a day, e.g. 30"
        let count = "a whole number, 1 or more"
        let dimensions = "WIDTHxHEIGHT, even numbers from 16 to 8192, e.g. 1280x720"
        host = read.text(.host) ?? host
        port = try read.int(.port, in: 1...65535, is: "a port number from 1 to 65535") ?? port
        publicURL = try read.value(.publicURL, is: "an http:// or https:// URL, e.g. https://cam.example.com",
                                   Self.webURL).map { String($0.trimmingSuffix("/")) }
        storageDirectory = read.text(.storageDirectory) ?? storageDirectory
        spoolDirectory = read.text(.spoolDirectory) ?? spoolDirectory
        recordingsDirectory = read.text(.recordingsDirectory) ?? recordingsDirectory
        databaseURL = try read.value(.databaseURL, is: "a postgres:// URL, e.g. postgres://reel:secret@db.example.com:5432/reel",
                                     { text in text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") ? text : nil })
        instanceID = try read.value(.instanceID, is: "1 to 64 letters, digits, dots, dashes or underscores, e.g. cams-2",
                                    { text in text.count <= 64 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) } ? text : nil })
            ?? instanceID
        advertiseURL = try read.value(.advertiseURL, is: "an http:// or https:// URL, e.g. http://10.0.0.12:3001",
                                      Self.webURL).map { String($0.trimmingSuffix("/")) }
        instanceTimeout = try read.double(.instanceTimeout, is: "a number of seconds from 1 to 3600",
                                          valid: { $0 >= 1 && $0 <= 3600 }) ?? instanceTimeout
        token = read.text(.token)
        limits.maxFrameBytes = try read.value(.maxFrameBytes, is: "a size above 0 and at most 1G, e.g. 8M or 8388608",
                                              ByteCount.parse, valid: { (1...(1 << 30)).contains($0) }) ?? limits.maxFrameBytes
        limits.maxFrameSize = try read.value(.maxFrameSize, is: "WIDTHxHEIGHT, e.g. 4096x4096", FrameSize.init)
            ?? limits.maxFrameSize
        limits.maxFramesPerRecording = try read.int(.maxFrames, in: 1...1_000_000_000, is: "a whole number from 1 to 1000000000") ?? limits.maxFramesPerRecording
        limits.maxSecondsPerRecording = try read.int(.maxSeconds, in: 1...year, is: "a whole number of seconds from 1 to 31536000 (a year)") ?? limits.maxSecondsPerRecording
        limits.maxRecordings = try read.int(.maxRecordings, in: 1...100_000, is: count) ?? limits.maxRecordings
        limits.idleSeconds = try read.double(.idleSeconds, is: seconds, valid: { $0 > 0 && $0 <= day }) ?? limits.idleSeconds
        encoder.fps = try read.int(.fps, in: 1...240, is: "a whole number of frames per second from 1 to 240") ?? encoder.fps
        encoder.size = try read.value(.size, is: dimensions, FrameSize.init, valid: Self.isVideoSize) ?? encoder.size
        presetPolicy = try Self.presetPolicy(read)
        if case .fixed(let preset) = presetPolicy {
            encoder.preset = preset
            ignored += [Setting.presetMax, .presetMin, .encoderCores].filter { read.text($0) != nil }.map {
                "\($0.flag) (\($0.variable)) is for --preset auto and is ignored with --preset \(preset)"
            }
        }
        encoderCores = try read.double(.encoderCores, is: "a number of cores above 0, e.g. 1.5",
                                       valid: { $0 > 0 && $0 <= 4096 })
        encoder.crf = try read.int(.crf, in: 0...51, is: "a whole number from 0 (best) to 51 (smallest)") ?? encoder.crf
        encoder.threads = try read.int(.threads, in: 0...64, is: "a whole number from 0 (from the cores) to 64")
            ?? encoder.threads
        if case .auto = presetPolicy, encoder.threads != 1 {
            throw SettingError(.threads, "\"\(encoder.threads)\" is not 1, which --preset auto needs: it encodes each recording on one thread to know what it costs; give a fixed --preset to use more threads")
        }
        fit = try read.choice(.fit, of: FitMode.self) ?? fit
        encoder.timing = try read.choice(.timing, of: EncoderSettings.Timing.self) ?? encoder.timing
        encoder.range = try read.choice(.range, of: ColorRange.self) ?? encoder.range
        retryMaxSeconds = try read.double(.retryMaxSeconds, is: "a number of seconds from 1 to 86400 (a day)",
                                             valid: { $0 >= 1 && $0 <= day })
            ?? retryMaxSeconds
        minFreeBytes = try read.value(.minFree, is: "a size up to 1024T, e.g. 1G, 512M or a number of bytes", ByteCount.parse,
                                      valid: { $0 <= 1 << 50 })
            ?? minFreeBytes
        connectionIdleSeconds = try read.double(.connectionIdleSeconds, is: seconds, valid: { $0 > 0 && $0 <= day })
            ?? connectionIdleSeconds
        maxConnections = try read.int(.maxConnections, in: 1...1_000_000, is: count)
        maxPending = try read.int(.maxPending, in: 0...10_000_000, is: "a whole number, 0 or more") ?? maxPending
        keepDays = try read.double(.keepDays, is: "a number of days above 0, e.g. 30 or 0.5",
                                   valid: { $0 > 0 && $0 <= 36500 })
        keepBytes = try read.value(.keepBytes, is: "a size above 0, e.g. 500G, 20G, 800M or a number of bytes",
                                   ByteCount.parse, valid: { $0 > 0 })
        webhookURL = try read.value(.webhookURL, is: "an http:// or https:// URL, e.g. https://hooks.example.com/reel",
                                    Self.webURL)
        webhookSecret = read.text(.webhookSecret)
        logLevel = try read.choice(.logLevel, of: Logger.Level.self) ?? logLevel
        logFormat = try read.choice(.logFormat, of: LogFormat.self) ?? logFormat
        supabase = try Self.supabase(read)
    }

    /// `--preset auto` (the default) between `--preset-max` and `--preset-min`, or one preset for every recording.
    private static func presetPolicy(_ read: SettingReader) throws -> PresetPolicy {
        let presets = EncoderSettings.presets
        let names = presets.joined(separator: ", ")
        let preset = try read.value(.preset, is: "auto or one of " + names, { $0 == "auto" || presets.contains($0) ? $0 : nil })
        let slowest = try read.value(.presetMax, is: "one of " + names, { presets.contains($0) ? $0 : nil }) ?? "veryfast"
        let fastest = try read.value(.presetMin, is: "one of " + names, { presets.contains($0) ? $0 : nil }) ?? "ultrafast"
        if let preset, preset != "auto" { return .fixed(preset) }
        let slowestIndex = presets.firstIndex(of: slowest)!
        guard presets.firstIndex(of: fastest)! <= slowestIndex else {
            throw SettingError(.presetMin, "\"\(fastest)\" is not one of \(presets[...slowestIndex].joined(separator: ", ")) (no slower than --preset-max \(slowest))")
        }
        return .auto(slowest: slowest, fastest: fastest)
    }

    /// The original service's three names; all or none.
    private static func supabase(_ read: SettingReader) throws -> SupabaseStorage.Configuration? {
        let url = try read.value(.supabaseURL, is: "an http:// or https:// URL, e.g. https://abc.supabase.co", webURL)
        let key = read.text(.supabaseKey)
        let bucket = read.text(.bucketName)
        guard url != nil || key != nil || bucket != nil else { return nil }
        guard let url, let key, let bucket else {
            let missing: Setting = url == nil ? .supabaseURL : key == nil ? .supabaseKey : .bucketName
            throw SettingError(missing, "is missing: Supabase Storage needs SUPABASE_URL, SUPABASE_KEY and BUCKET_NAME")
        }
        var configuration = SupabaseStorage.Configuration(url: url, key: key, bucket: bucket)
        configuration.publicBucket = try read.bool(.bucketPublic)
        configuration.signedURLSeconds = try read.int(.signedURLSeconds, in: 1...315_360_000,
                                                      is: "a whole number of seconds, 1 or more")
            ?? configuration.signedURLSeconds
        configuration.resumableThreshold = try read.value(.resumableBytes, is: "a size above 0, e.g. 6M or 6000000",
                                                          ByteCount.parse, valid: { $0 > 0 })
            ?? configuration.resumableThreshold
        return configuration
    }

    private static func webURL(_ text: String) -> String? {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased()), url.host != nil else {
            return nil
        }
        return text
    }

    private static func isVideoSize(_ size: FrameSize) -> Bool {
        size.width % 2 == 0 && size.height % 2 == 0 && size.width >= 16 && size.height >= 16 && max(size.width, size.height) <= 8192
    }
}

/// How log lines are written: for people, or one JSON object per line for log shippers.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json
}

extension StringProtocol {
    func trimmingSuffix(_ suffix: String) -> SubSequence {
        var text = self[...]
        while text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        return text
    }
}

extension ServerSettings {
    /// The machine's name, the default `--instance-id`.
    static var hostName: String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty ? "reel" : String(name.prefix(64))
    }
}

import ArgumentParser
import Configuration
import Hummingbird
import Logging
import ReelServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive webcam frames over HTTP and store each recording as an H.264 MP4.",
        discussion: """
        Every option can also come from the environment or a .env file in the working \
        folder: the variable is the option's name in capitals with REEL_ in front \
        (--max-frames is REEL_MAX_FRAMES). Options win over the environment, the \
        environment over .env.
        """
    )

    @OptionGroup(title: "Storage") var storage: StorageOptions

    @Option(help: "Address to listen on (REEL_HOST). Default: 0.0.0.0.")
    var host: String?

    @Option(help: "Port to listen on (REEL_PORT). Default: 3001.")
    var port: Int?

    @Option(help: "Base URL answered for stored videos, e.g. https://cam.example.com (REEL_PUBLIC_URL). Default: the request's Host.")
    var publicURL: String?

    @Option(help: "Folder of recordings in progress (REEL_SPOOL_DIR). Default: data/spool.")
    var spoolDir: String?

    @Option(help: "Folder of the recordings' list entries and thumbnails (REEL_RECORDINGS_DIR). Default: data/recordings.")
    var recordingsDir: String?

    @Option(help: "Bearer token every route but /healthz requires (REEL_TOKEN). Default: none.")
    var token: String?

    @Option(help: "Largest frame accepted, in bytes (REEL_MAX_FRAME_BYTES). Default: 8388608.")
    var maxFrameBytes: Int?

    @Option(help: "Largest frame accepted, WIDTHxHEIGHT (REEL_MAX_FRAME_SIZE). Default: 4096x4096.")
    var maxFrameSize: String?

    @Option(help: "Frames per recording (REEL_MAX_FRAMES). Default: 97200.")
    var maxFrames: Int?

    @Option(help: "Seconds per recording (REEL_MAX_SECONDS). Default: 3600.")
    var maxSeconds: Int?

    @Option(help: "Recordings in progress at once (REEL_MAX_RECORDINGS). Default: 16.")
    var maxRecordings: Int?

    @Option(help: "Seconds without a frame after which a recording is finished and stored (REEL_IDLE_SECONDS). Default: 60.")
    var idleSeconds: Double?

    @Option(help: "Frames per second of the video (REEL_FPS). Default: 27.")
    var fps: Int?

    @Option(help: "Video size, WIDTHxHEIGHT (REEL_SIZE). Default: 1280x720.")
    var size: String?

    @Option(help: "x264 preset (REEL_PRESET). Default: veryfast.")
    var preset: String?

    @Option(help: "x264 quality, 0-51, lower is better (REEL_CRF). Default: 23.")
    var crf: Int?

    @Option(help: "x264 threads per recording, 0 = from the core count (REEL_THREADS). Default: 2.")
    var threads: Int?

    @Option(help: "Frames of another shape: fit, fill or stretch (REEL_FIT). Default: fit.")
    var fit: String?

    @Option(help: "Frame times: constant (one 1/fps tick per frame) or arrival (arrival time, or the client's X-Reel-Timestamp in ms) (REEL_TIMING). Default: constant.")
    var timing: String?

    @Option(help: "Video levels: limited or full (REEL_RANGE). Default: limited.")
    var range: String?

    @Option(help: "Longest wait between attempts to upload a pending recording, in seconds (REEL_RETRY_MAX_SECONDS). Default: 60.")
    var retryMaxSeconds: Double?

    @Option(help: "Least free space kept on the spool's disk: below it, no recording starts and no frame is taken (507), e.g. 512M, 2G (REEL_MIN_FREE). Default: 1G.")
    var minFree: String?

    @Option(help: "Seconds after which an idle connection, or a request whose headers or body stall, is closed (REEL_CONNECTION_IDLE_SECONDS). Default: 30.")
    var connectionIdleSeconds: Double?

    @Option(help: "Connections open at once (REEL_MAX_CONNECTIONS). Default: what the open-file limit allows, with room kept for recordings.")
    var maxConnections: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (REEL_LOG_LEVEL). Default: info.")
    var logLevel: String?

    func run() async throws {
        typealias Key = ServerSettings.Key
        var values = storage.optionValues
        values.put(Key.host, host.map { .string($0) })
        values.put(Key.port, port.map { .int($0) })
        values.put(Key.publicURL, publicURL.map { .string($0) })
        values.put(Key.spoolDirectory, spoolDir.map { .string($0) })
        values.put(Key.recordingsDirectory, recordingsDir.map { .string($0) })
        values.put(Key.token, token.map { .string($0) }, secret: true)
        values.put(Key.maxFrameBytes, maxFrameBytes.map { .int($0) })
        values.put(Key.maxFrameSize, maxFrameSize.map { .string($0) })
        values.put(Key.maxFrames, maxFrames.map { .int($0) })
        values.put(Key.maxSeconds, maxSeconds.map { .int($0) })
        values.put(Key.maxRecordings, maxRecordings.map { .int($0) })
        values.put(Key.idleSeconds, idleSeconds.map { .double($0) })
        values.put(Key.fps, fps.map { .int($0) })
        values.put(Key.size, size.map { .string($0) })
        values.put(Key.preset, preset.map { .string($0) })
        values.put(Key.crf, crf.map { .int($0) })
        values.put(Key.threads, threads.map { .int($0) })
        values.put(Key.fit, fit.map { .string($0) })
        values.put(Key.timing, timing.map { .string($0) })
        values.put(Key.range, range.map { .string($0) })
        values.put(Key.retryMaxSeconds, retryMaxSeconds.map { .double($0) })
        values.put(Key.minFree, minFree.map { .string($0) })
        values.put(Key.connectionIdleSeconds, connectionIdleSeconds.map { .double($0) })
        values.put(Key.maxConnections, maxConnections.map { .int($0) })
        values.put("reel.log.level", logLevel.map { .string($0) })

        let reader = try await StorageOptions.reader(values)
        let settings = try StorageOptions.settings(reader)
        let levelName = reader.string(forKey: "reel.log.level", default: "info")
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "reel")
        logger.logLevel = level
        let app = try await buildApplication(settings: settings, logger: logger)
        try await app.runService()
    }
}

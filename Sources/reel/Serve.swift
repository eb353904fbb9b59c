import ArgumentParser
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

    @Option(parsing: .unconditional, help: "Address to listen on (REEL_HOST). Default: 0.0.0.0.")
    var host: String?

    @Option(parsing: .unconditional, help: "Port to listen on (REEL_PORT). Default: 3001.")
    var port: String?

    @Option(parsing: .unconditional, help: "Base URL answered for stored videos, e.g. https://cam.example.com (REEL_PUBLIC_URL). Default: the request's Host.")
    var publicURL: String?

    @Option(parsing: .unconditional, help: "Folder of recordings in progress (REEL_SPOOL_DIR). Default: data/spool.")
    var spoolDir: String?

    @Option(parsing: .unconditional, help: "Folder of the catalog's SQLite file, catalog.sqlite (REEL_RECORDINGS_DIR). Default: data/recordings.")
    var recordingsDir: String?

    @Option(parsing: .unconditional, help: "The catalog of recordings in PostgreSQL, e.g. postgres://reel:secret@db.example.com/reel, shared by every instance (REEL_DATABASE_URL). Default: SQLite in <recordings-dir>/catalog.sqlite.")
    var databaseURL: String?

    @Option(parsing: .unconditional, help: "This server's name among those sharing a catalog: it recovers only its own recordings after a crash (REEL_INSTANCE_ID). Default: the host name.")
    var instanceID: String?

    @Option(parsing: .unconditional, help: "Where the other servers sharing the catalog reach this one, e.g. http://10.0.0.12:3001 (REEL_ADVERTISE_URL). Default: http://<host>:<port>.")
    var advertiseURL: String?

    @Option(parsing: .unconditional, help: "Seconds without a heartbeat after which a server sharing the catalog is taken as lost: its recordings answer 503 until it is back (REEL_INSTANCE_TIMEOUT). Default: 15.")
    var instanceTimeout: String?

    @Option(parsing: .unconditional, help: "Bearer token (or ?token=) every route requires but /healthz, /readyz and the page itself (REEL_TOKEN). Default: none.")
    var token: String?

    @Option(parsing: .unconditional, help: "Largest frame accepted, in bytes (REEL_MAX_FRAME_BYTES). Default: 8388608.")
    var maxFrameBytes: String?

    @Option(parsing: .unconditional, help: "Largest frame accepted, WIDTHxHEIGHT (REEL_MAX_FRAME_SIZE). Default: 4096x4096.")
    var maxFrameSize: String?

    @Option(parsing: .unconditional, help: "Frames per recording (REEL_MAX_FRAMES). Default: 97200.")
    var maxFrames: String?

    @Option(parsing: .unconditional, help: "Seconds per recording (REEL_MAX_SECONDS). Default: 3600.")
    var maxSeconds: String?

    @Option(parsing: .unconditional, help: "Recordings in progress at once (REEL_MAX_RECORDINGS). Default: 16.")
    var maxRecordings: String?

    @Option(parsing: .unconditional, help: "Seconds without a frame after which a recording is finished and stored (REEL_IDLE_SECONDS). Default: 60.")
    var idleSeconds: String?

    @Option(parsing: .unconditional, help: "Frames per second of the video (REEL_FPS). Default: 27.")
    var fps: String?

    @Option(parsing: .unconditional, help: "Video size, WIDTHxHEIGHT (REEL_SIZE). Default: 1280x720.")
    var size: String?

    @Option(parsing: .unconditional, help: "x264 preset: auto, or one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow for every recording (REEL_PRESET). auto gives each new recording the slowest preset the cores still carry beside the recordings in progress, and refuses it (503) when none fits. Default: auto.")
    var preset: String?

    @Option(parsing: .unconditional, help: "The slowest preset --preset auto gives (REEL_PRESET_MAX). Default: veryfast.")
    var presetMax: String?

    @Option(parsing: .unconditional, help: "The fastest preset --preset auto gives before refusing a recording (REEL_PRESET_MIN). Default: ultrafast.")
    var presetMin: String?

    @Option(parsing: .unconditional, help: "Cores the recordings may use under --preset auto, e.g. 1.5 (REEL_ENCODER_CORES). Default: 90% of the cores reel may run on.")
    var encoderCores: String?

    @Option(parsing: .unconditional, help: "x264 quality, 0-51, lower is better (REEL_CRF). Default: 23.")
    var crf: String?

    @Option(parsing: .unconditional, help: "x264 threads per recording, 0 = from the core count; 1 with --preset auto (REEL_THREADS). Default: 1.")
    var threads: String?

    @Option(parsing: .unconditional, help: "Frames of another shape: fit, fill or stretch (REEL_FIT). Default: fit.")
    var fit: String?

    @Option(parsing: .unconditional, help: "Frame times: constant (one 1/fps tick per frame) or arrival (arrival time, or the client's X-Reel-Timestamp in ms) (REEL_TIMING). Default: constant.")
    var timing: String?

    @Option(parsing: .unconditional, help: "Video levels: limited or full (REEL_RANGE). Default: limited.")
    var range: String?

    @Option(parsing: .unconditional, help: "Longest wait between attempts to upload a pending recording, in seconds (REEL_RETRY_MAX_SECONDS). Default: 60.")
    var retryMaxSeconds: String?

    @Option(parsing: .unconditional, help: "Least free space kept on the spool's disk: below it, no recording starts and no frame is taken (507), e.g. 512M, 2G (REEL_MIN_FREE). Default: 1G.")
    var minFree: String?

    @Option(parsing: .unconditional, help: "Seconds after which an idle connection, or a request whose headers or body stall, is closed (REEL_CONNECTION_IDLE_SECONDS). Default: 30.")
    var connectionIdleSeconds: String?

    @Option(parsing: .unconditional, help: "Connections open at once (REEL_MAX_CONNECTIONS). Default: what the open-file limit allows, with room kept for recordings.")
    var maxConnections: String?

    @Option(parsing: .unconditional, help: "Recordings waiting for upload above which /readyz answers 503 (REEL_MAX_PENDING). Default: 100.")
    var maxPending: String?

    @Option(parsing: .unconditional, help: "Delete stored recordings older than this many days, e.g. 30 (REEL_KEEP_DAYS). Default: kept.")
    var keepDays: String?

    @Option(parsing: .unconditional, help: "Delete the oldest stored recordings while they total more than this, e.g. 500G, 800M (REEL_KEEP_BYTES). Default: kept.")
    var keepBytes: String?

    @Option(parsing: .unconditional, help: "Receives a POST of JSON for each recording stored, failed or deleted (REEL_WEBHOOK_URL). Default: none.")
    var webhookURL: String?

    @Option(parsing: .unconditional, help: "Signs each webhook: X-Reel-Signature: sha256=<hex HMAC-SHA256 of the body> (REEL_WEBHOOK_SECRET). Default: unsigned.")
    var webhookSecret: String?

    @Option(parsing: .unconditional, help: "Log level: trace, debug, info, notice, warning, error, critical (REEL_LOG_LEVEL). Default: info.")
    var logLevel: String?

    @Option(parsing: .unconditional, help: "Log lines as text for people, or json: one object per line for log shippers (REEL_LOG_FORMAT). Default: text.")
    var logFormat: String?

    private var flags: [Setting: String?] {
        storage.flags.merging([
            .host: host, .port: port, .publicURL: publicURL, .spoolDirectory: spoolDir, .recordingsDirectory: recordingsDir, .databaseURL: databaseURL, .instanceID: instanceID, .advertiseURL: advertiseURL, .instanceTimeout: instanceTimeout,
            .token: token, .maxFrameBytes: maxFrameBytes, .maxFrameSize: maxFrameSize, .maxFrames: maxFrames,
            .maxSeconds: maxSeconds, .maxRecordings: maxRecordings, .idleSeconds: idleSeconds, .fps: fps, .size: size,
            .preset: preset, .presetMax: presetMax, .presetMin: presetMin, .encoderCores: encoderCores, .crf: crf, .threads: threads, .fit: fit, .timing: timing, .range: range,
            .retryMaxSeconds: retryMaxSeconds, .minFree: minFree, .connectionIdleSeconds: connectionIdleSeconds,
            .maxConnections: maxConnections, .maxPending: maxPending, .keepDays: keepDays, .keepBytes: keepBytes,
            .webhookURL: webhookURL, .webhookSecret: webhookSecret, .logLevel: logLevel, .logFormat: logFormat,
        ]) { $1 }
    }

    func run() async throws {
        let sources = try await SettingSources(flags: flags)
        let settings = try sources.serverSettings()
        let format = settings.logFormat
        LoggingSystem.bootstrap { label in
            format == .json ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
        var logger = Logger(label: "reel")
        logger.logLevel = settings.logLevel
        for warning in sources.warnings + settings.ignored { logger.warning("\(warning)") }
        try await runServer(settings: settings, logger: logger)
    }
}

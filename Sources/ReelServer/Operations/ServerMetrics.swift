import Metrics
import Foundation
import Prometheus
import ReelMedia

/// The server's instruments, made through swift-metrics from one Prometheus
/// factory, so `GET /metrics` emits exactly what they counted. Nothing is
/// bootstrapped globally: a server, or a test, owns its registry.
struct ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    let recordingsActive: Meter
    let framesReceived: CoreMetrics.Counter
    let framesEncoded: CoreMetrics.Counter
    let frameEncodeTime: CoreMetrics.Timer
    let encoderWaits: CoreMetrics.Counter
    let finishTime: CoreMetrics.Timer
    let bytesStored: CoreMetrics.Counter
    let uploadsSucceeded: CoreMetrics.Counter
    let uploadsFailed: CoreMetrics.Counter
    let uploadsPending: Meter
    let retentionPasses: CoreMetrics.Counter
    let webhooksDelivered: CoreMetrics.Counter
    let webhooksFailed: CoreMetrics.Counter
    let webhooksPending: Meter
    let diskFree: Meter
    let storedRecordings: Meter
    let storedBytes: Meter
    let encoderLag: Meter
    let encoderLoad: Meter
    let encoderCapacity: Meter
    /// `live.mp4` responses in progress: viewers of recordings in progress.
    let liveStreams: Meter
    /// Live playlists answered, for players polling them.
    let livePlaylists: CoreMetrics.Counter
    /// Requests passed to the server that records their recording, and those it could not be reached for.
    let relaysAnswered: CoreMetrics.Counter
    let relaysUnreachable: CoreMetrics.Counter
    /// When this server started, for `process_start_time_seconds`.
    let started = Date()
    private let refused: [RefusalReason: CoreMetrics.Counter]
    private let deleted: [DeletionReason: CoreMetrics.Counter]
    private let startedByPreset: [String: CoreMetrics.Counter]
    private let presetCosts: [String: Meter]
    private let creationsRefused: [CreationRefusal: CoreMetrics.Counter]

    /// `presets`: those recordings may get, each a line of `reel_preset_cost_cores`.
    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), presets: [String] = EncoderSettings.presets) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // A 720p frame takes 5–40 ms in x264; the default buckets start at 5 ms.
        factory.durationHistogramBuckets["reel_frame_encode_seconds"] =
            [1, 2, 5, 10, 15, 20, 30, 40, 60, 100, 250].map { .milliseconds($0) }
        recordingsActive = Meter(label: "reel_recordings_active", factory: factory)
        framesReceived = Counter(label: "reel_frames_received_total", factory: factory)
        framesEncoded = Counter(label: "reel_frames_encoded_total", factory: factory)
        frameEncodeTime = Timer(label: "reel_frame_encode_seconds", factory: factory)
        encoderWaits = Counter(label: "reel_encoder_backpressure_waits_total", factory: factory)
        finishTime = Timer(label: "reel_finish_seconds", factory: factory)
        bytesStored = Counter(label: "reel_stored_bytes_total", factory: factory)
        uploadsSucceeded = Counter(label: "reel_uploads_total", dimensions: [("result", "succeeded")], factory: factory)
        uploadsFailed = Counter(label: "reel_uploads_total", dimensions: [("result", "failed")], factory: factory)
        uploadsPending = Meter(label: "reel_uploads_pending", factory: factory)
        retentionPasses = Counter(label: "reel_retention_passes_total", factory: factory)
        webhooksDelivered = Counter(label: "reel_webhooks_total", dimensions: [("result", "delivered")], factory: factory)
        webhooksFailed = Counter(label: "reel_webhooks_total", dimensions: [("result", "failed")], factory: factory)
        webhooksPending = Meter(label: "reel_webhooks_pending", factory: factory)
        diskFree = Meter(label: "reel_disk_free_bytes", factory: factory)
        storedRecordings = Meter(label: "reel_stored_recordings", factory: factory)
        storedBytes = Meter(label: "reel_stored_bytes", factory: factory)
        encoderLag = Meter(label: "reel_encoder_lag_seconds", factory: factory)
        encoderLoad = Meter(label: "reel_encoder_load_cores", factory: factory)
        encoderCapacity = Meter(label: "reel_encoder_capacity_cores", factory: factory)
        liveStreams = Meter(label: "reel_live_streams", factory: factory)
        livePlaylists = Counter(label: "reel_live_playlists_total", factory: factory)
        relaysAnswered = Counter(label: "reel_relayed_requests_total", dimensions: [("result", "answered")], factory: factory)
        relaysUnreachable = Counter(label: "reel_relayed_requests_total", dimensions: [("result", "unreachable")], factory: factory)
        // Every label value is registered from the start, at zero, so a graph has a line before the first event.
        startedByPreset = Self.each(EncoderSettings.presets, "preset", { $0 }) {
            Counter(label: "reel_recordings_started_total", dimensions: $0, factory: factory)
        }
        presetCosts = Self.each(presets, "preset", { $0 }) { Meter(label: "reel_preset_cost_cores", dimensions: $0, factory: factory) }
        creationsRefused = Self.each(CreationRefusal.allCases, "reason", \.rawValue) {
            Counter(label: "reel_recordings_refused_total", dimensions: $0, factory: factory)
        }
        refused = Self.each(RefusalReason.allCases, "reason", \.rawValue) {
            Counter(label: "reel_frames_refused_total", dimensions: $0, factory: factory)
        }
        deleted = Self.each(DeletionReason.allCases, "reason", \.rawValue) {
            Counter(label: "reel_recordings_deleted_total", dimensions: $0, factory: factory)
        }
    }

    /// One instrument per value of a label: `make` is given the label's dimensions.
    private static func each<Key: Hashable, Instrument>(_ keys: some Sequence<Key>, _ label: String, _ value: (Key) -> String,
                                                       _ make: ([(String, String)]) -> Instrument) -> [Key: Instrument] {
        Dictionary(uniqueKeysWithValues: keys.map { ($0, make([(label, value($0))])) })
    }

    /// Recordings deleted, by the rule that removed them.
    func recordingsDeleted(_ reason: DeletionReason) -> CoreMetrics.Counter { deleted[reason]! }

    /// Recordings started, by the preset they encode with.
    func recordingsStarted(_ preset: String) -> CoreMetrics.Counter? { startedByPreset[preset] }

    /// What a recording at each preset is expected to cost, in cores.
    func presetCost(_ preset: String) -> Meter? { presetCosts[preset] }

    /// Recordings not started, by why.
    func recordingsRefused(_ reason: CreationRefusal) -> CoreMetrics.Counter { creationsRefused[reason]! }

    /// Frames turned away, by why.
    func framesRefused(_ reason: RefusalReason) -> CoreMetrics.Counter { refused[reason]! }

    /// What each recording's encoder reports, counted here.
    var encoderObserver: EncoderObserver {
        EncoderObserver(
            frameEncoded: { [framesEncoded, frameEncodeTime] duration in
                framesEncoded.increment()
                frameEncodeTime.record(duration: duration)
            },
            waitedForEncoder: { [encoderWaits] in encoderWaits.increment() }
        )
    }

    /// The Prometheus text exposition of every instrument, and the process's own.
    func exposition() -> [UInt8] {
        registry.emitToBuffer() + Array(ProcessMetrics.exposition(startTime: started).utf8)
    }
}

/// Why a recording was not started, as the `reason` label of `reel_recordings_refused_total`.
enum CreationRefusal: String, CaseIterable, Sendable {
    /// No CPU left for it under `--preset auto`.
    case encodersFull = "encoders_full"
    /// `--max-recordings` are in progress.
    case maxRecordings = "max_recordings"
    /// The spool's disk is full or under `--min-free`.
    case insufficientStorage = "insufficient_storage"
}

/// Why a frame was refused, as the `reason` label of `reel_frames_refused_total`.
enum RefusalReason: String, CaseIterable, Sendable {
    case empty
    case notJPEG = "not_jpeg"
    case corruptJPEG = "corrupt_jpeg"
    case unsupportedJPEG = "unsupported_jpeg"
    case tooLarge = "too_large"
    case badRequest = "bad_request"
    case unknownRecording = "unknown_recording"
    /// The recording takes no more frames: finished, or at its frame or time limit.
    case recordingClosed = "recording_closed"
    case encoderFailed = "encoder_failed"
    /// The spool's disk is full or under `--min-free`.
    case diskFull = "insufficient_storage"

    init(_ error: any Error) {
        switch error {
        case let error as MediaError:
            switch error {
            case .empty: self = .empty
            case .notJPEG: self = .notJPEG
            case .corruptJPEG: self = .corruptJPEG
            case .unsupportedJPEG: self = .unsupportedJPEG
            case .tooLarge: self = .tooLarge
            case .recordingFinished: self = .recordingClosed
            case .diskFull: self = .diskFull
            case .ffmpeg, .noFrames, .jpegEncoding, .file: self = isDiskFull(error) ? .diskFull : .encoderFailed
            }
        case is LowDiskSpace:
            self = .diskFull
        case let error as RecordingError:
            switch error {
            case .noneInProgress, .unknown, .recordedElsewhere, .instanceLost: self = .unknownRecording
            case .alreadyFinished, .frameLimit, .timeLimit: self = .recordingClosed
            case .noSpaceToStart, .noSpaceToFinish: self = .diskFull
            case .tooMany, .encodersFull, .stopping, .cannotStart, .unknownCursor, .storingFailed, .timestampOutOfRange, .busy, .beingDeleted,
                 .deletingFailed, .notLive, .idTaken:
                self = .badRequest
            }
        case let error as UploadError:
            switch error {
            case .empty: self = .empty
            case .bodyTooLarge, .frameTooLarge: self = .tooLarge
            case .noBoundary, .noField: self = .badRequest
            }
        default: self = .encoderFailed
        }
    }
}

import Foundation
import Logging
import ReelErrors
import ReelMedia

/// The cores recordings need against the cores they may use.
///
/// Under `--preset auto` each new recording gets the slowest preset that fits
/// beside every recording already admitted, counted from its creation (before
/// its first frame), and still leaves room for one more camera at the fastest
/// preset; the last camera that fits gets the slowest preset that fits. When
/// none fits it is refused: a camera turned away honestly instead of every
/// camera falling behind. A running recording keeps its preset. The costs
/// behind the choice are learnt from the CPU time recordings spend, and kept in
/// a file so a restart starts from this machine's figures.
struct EncoderCapacity {
    let policy: PresetPolicy
    /// Cores the recordings may use.
    let cores: Double
    /// What recordings cost here, learnt as they run.
    var costs: PresetCosts
    /// Recordings in progress and their presets.
    private(set) var admitted: [String: String] = [:]
    private let costsPath: String
    private let logger: Logger
    /// Costs are learnt for auto alone, and only x264 on one thread spends its CPU on the thread measured.
    private let learns: Bool
    private var lastSaved = ContinuousClock.now
    private var unsaved = false
    /// What the process and each recording had spent when the per-frame figure was last learnt.
    private var baseline: (process: Duration, recordings: [String: RecordingCPU])?
    /// The readings each recording's x264 figure was last learnt from.
    private var learntReadings: [String: RecordingCPU] = [:]

    static let costsFile = "encoder-costs.json"
    /// What a refused camera is told to wait before asking again.
    static let retryAfterSeconds = 10

    init(settings: ServerSettings, logger: Logger) {
        policy = settings.presetPolicy
        cores = Self.cores(settings)
        // Beside the spools (the recordings folder's .json files are entries).
        costsPath = settings.spoolDirectory + "/" + Self.costsFile
        self.logger = logger
        if case .auto = policy { learns = settings.encoder.threads == 1 } else { learns = false }
        let (costs, problem) = PresetCosts.load(from: costsPath, size: settings.encoder.size, fps: settings.encoder.fps)
        self.costs = costs
        if let problem { logger.warning("\(problem)") }
    }

    /// `--encoder-cores`, or 90% of the cores this process may run on (its CPU
    /// affinity; a container's quota is given with --encoder-cores).
    static func cores(_ settings: ServerSettings) -> Double {
        settings.encoderCores ?? Double(ProcessInfo.processInfo.activeProcessorCount) * 0.9
    }

    /// Cores every recording admitted is expected to take.
    var load: Double { admitted.values.reduce(0) { $0 + costs.cores($1) } }

    /// The preset a new recording `id` gets, counted from now on; throws when none fits.
    mutating func admit(_ id: String) throws -> String {
        if case .fixed(let preset) = policy {
            admitted[id] = preset
            return preset
        }
        let load = self.load, choices = policy.choices
        let roomForOneMore = costs.cores(choices.last!)
        guard let preset = choices.first(where: { load + costs.cores($0) + roomForOneMore <= cores })
            ?? choices.first(where: { load + costs.cores($0) <= cores }) else {
            throw full(load: load)
        }
        admitted[id] = preset
        return preset
    }

    /// The recording no longer encodes. What it spent since the last sample
    /// (its flush, its remux) belongs to no frame: the per-frame figure starts afresh.
    mutating func release(_ id: String) {
        admitted[id] = nil
        learntReadings[id] = nil
        baseline = nil
    }

    /// Why no recording can start now; nil when one can.
    var refusal: RecordingError? {
        guard case .auto = policy, let fastest = policy.choices.last, load + costs.cores(fastest) > cores else { return nil }
        return full(load: load)
    }

    private func full(load: Double) -> RecordingError {
        let fastest = policy.choices.last!
        return .encodersFull(recordings: admitted.count, load: load, cores: cores, fastest: fastest,
                             needs: costs.cores(fastest), retryAfter: Self.retryAfterSeconds)
    }

    /// Learns from the CPU time spent since the last sample: each recording's
    /// x264 once it has given back a second of video more, and the rest from the
    /// process's CPU time less x264's, per frame received, over at least a
    /// second of video while the same recordings ran.
    mutating func sample(_ sessions: [RecordingSession]) {
        guard learns, let processCPU = CPUTime.process() else { return }
        defer { if unsaved, ContinuousClock.now - lastSaved > .seconds(60) { save() } }
        var readings: [String: RecordingCPU] = [:]
        for session in sessions {
            let now = session.cpu
            readings[session.id] = now
            let learnt = learntReadings[session.id] ?? RecordingCPU()
            if now.framesOut - learnt.framesOut >= costs.fps {
                costs.learnEncode(session.preset, cpu: now.encode - learnt.encode, frames: now.framesOut - learnt.framesOut)
                learntReadings[session.id] = now
                unsaved = true
            }
        }
        guard let baseline, Set(baseline.recordings.keys) == Set(readings.keys) else {
            self.baseline = (processCPU, readings)
            return
        }
        var x264 = Duration.zero, frames = 0
        for (id, now) in readings {
            x264 += now.encode - baseline.recordings[id]!.encode
            frames += now.framesIn - baseline.recordings[id]!.framesIn
        }
        guard frames >= costs.fps else { return }  // not yet a second of video: keep adding up
        costs.learnPerFrame(cpu: processCPU - baseline.process - x264, frames: frames)
        self.baseline = (processCPU, readings)
        unsaved = true
    }

    /// Keeps what was learnt for the next start.
    mutating func save() {
        guard unsaved else { return }
        lastSaved = .now
        unsaved = false
        do {
            try costs.save(to: costsPath)
        } catch {
            logger.warning("cannot keep the encoder costs learnt in \(costsPath): \(describe(error))")
        }
    }
}

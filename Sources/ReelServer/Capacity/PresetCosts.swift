import Foundation
import ReelMedia

/// What one recording costs, in cores, at the server's picture size and frame
/// rate: x264's share for each preset, and the rest (JPEG decoding, scaling, the
/// journal, HTTP) per frame whatever the preset. Starts from figures measured
/// for x264 on a 2-core x86 server and learns this machine's as recordings run;
/// a preset not yet seen here is scaled by how this machine compares on the
/// presets that were.
struct PresetCosts: Codable, Equatable, Sendable {
    /// A learnt figure and how many frames it was learnt from.
    struct Estimate: Codable, Equatable, Sendable {
        var cores: Double
        var frames: Int
    }

    /// The size and rate the figures are for: others make them meaningless.
    var size: String
    var fps: Int
    /// x264 alone, per preset.
    var encode: [String: Estimate] = [:]
    /// Everything else a recording's frames cost.
    var perFrame: Estimate

    /// Frames after which a figure stops being moved much by one sample: a minute of video.
    var memory: Int { fps * 60 }
    /// What the reference figures weigh against the first samples: five seconds of video.
    var referenceWeight: Int { fps * 5 }

    /// x264 `-threads 1` at 1280x720, 27 fps, crf 23 on realistic footage, in cores; the slower presets from x264's own speed ratios.
    static let referenceCores: [String: Double] = [
        "ultrafast": 0.17, "superfast": 0.26, "veryfast": 0.42, "faster": 0.60, "fast": 0.80,
        "medium": 1.0, "slow": 1.6, "slower": 3.0, "veryslow": 6.0,
    ]
    /// Decoding a 720p JPEG and the rest, per recording at 27 fps, in cores.
    static let referencePerFrameCores = 0.12

    init(size: FrameSize, fps: Int) {
        self.size = size.description
        self.fps = fps
        perFrame = Estimate(cores: Self.referencePerFrameCores * Self.scale(size: size, fps: fps), frames: 0)
    }

    /// How many times the work of 1280x720 at 27 fps.
    private static func scale(size: FrameSize, fps: Int) -> Double {
        Double(size.width * size.height * fps) / Double(1280 * 720 * 27)
    }

    private var scale: Double { FrameSize(size).map { Self.scale(size: $0, fps: fps) } ?? 1 }

    /// Cores one recording at `preset` is expected to take.
    func cores(_ preset: String) -> Double { encodeCores(preset) + perFrame.cores }

    func encodeCores(_ preset: String) -> Double {
        if let learnt = encode[preset], learnt.frames >= fps { return learnt.cores }
        return (Self.referenceCores[preset] ?? 1) * scale * machineFactor
    }

    /// This machine's x264 against the reference, over the presets measured here.
    private var machineFactor: Double {
        var weighted = 0.0, frames = 0
        for (preset, learnt) in encode where learnt.frames >= fps {
            guard let reference = Self.referenceCores[preset] else { continue }
            weighted += learnt.cores / (reference * scale) * Double(learnt.frames)
            frames += learnt.frames
        }
        return frames > 0 ? weighted / Double(frames) : 1
    }

    /// `frames` encoded at `preset` took `cpu` on the encoder's thread.
    mutating func learnEncode(_ preset: String, cpu: Duration, frames: Int) {
        var estimate = encode[preset] ?? Estimate(cores: encodeCores(preset), frames: 0)
        learn(&estimate, cpu: cpu, frames: frames)
        encode[preset] = estimate
    }

    /// `frames` cost `cpu` besides x264.
    mutating func learnPerFrame(cpu: Duration, frames: Int) {
        learn(&perFrame, cpu: cpu, frames: frames)
    }

    /// A moving average over about the last minute of video, starting from the
    /// reference as if it had been learnt from five seconds.
    private func learn(_ estimate: inout Estimate, cpu: Duration, frames: Int) {
        guard frames > 0, cpu >= .zero else { return }
        let sample = cpu.inSeconds / Double(frames) * Double(fps)
        let weight = Double(frames) / Double(min(max(estimate.frames, referenceWeight), memory) + frames)
        estimate.cores += (sample - estimate.cores) * weight
        estimate.frames += frames
    }
}

extension PresetCosts {
    /// The figures kept in `path`, when they are for this size and rate; else the reference.
    static func load(from path: String, size: FrameSize, fps: Int) -> (costs: PresetCosts, problem: String?) {
        let fresh = PresetCosts(size: size, fps: fps)
        guard let data = FileManager.default.contents(atPath: path) else { return (fresh, nil) }
        guard let saved = try? JSONDecoder().decode(PresetCosts.self, from: data),
              ([saved.perFrame] + saved.encode.values).allSatisfy({ $0.cores.isFinite && $0.cores > 0 && $0.frames >= 0 }) else {
            return (fresh, "\(path) is not a file of encoder costs; it is replaced by figures learnt anew")
        }
        guard saved.size == fresh.size, saved.fps == fps else {
            return (fresh, "\(path) holds costs for \(saved.size) at \(saved.fps) fps, not \(fresh.size) at \(fps); they are learnt anew")
        }
        return (saved, nil)
    }

    func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

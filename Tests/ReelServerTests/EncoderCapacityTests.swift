import Foundation
import Logging
import ReelMedia
import ReelTestSupport
import Testing
@testable import ReelServer

/// `--preset auto`'s choices, with this machine's costs given rather than timed.
@Suite struct EncoderCapacityTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    /// Costs as a 2-core x86 server measures them at 720p27: x264 alone and everything else per frame.
    func measured(frames: Int = 2700) -> PresetCosts {
        var costs = PresetCosts(size: .hd720, fps: 27)
        costs.encode = ["veryfast": .init(cores: 0.60, frames: frames), "superfast": .init(cores: 0.30, frames: frames),
                        "ultrafast": .init(cores: 0.15, frames: frames)]
        costs.perFrame = .init(cores: 0.05, frames: frames)
        return costs
    }

    func capacity(cores: Double, costs: PresetCosts? = nil, policy: PresetPolicy = .auto(slowest: "veryfast", fastest: "ultrafast"),
                  threads: Int = 1) throws -> EncoderCapacity {
        var settings = testSettings(scratch)
        settings.presetPolicy = policy
        settings.encoderCores = cores
        settings.encoder.threads = threads
        try FileManager.default.createDirectory(atPath: settings.spoolDirectory, withIntermediateDirectories: true)
        if let costs { try costs.save(to: settings.spoolDirectory + "/" + EncoderCapacity.costsFile) }
        return EncoderCapacity(settings: settings, logger: Logger(label: "reel-test"))
    }

    @Test func anIdleMachineGetsTheSlowestPresetAndLaterRecordingsFasterOnesUntilNoneFits() throws {
        // veryfast 0.65, superfast 0.35, ultrafast 0.20 cores a recording; 1.9 cores to share.
        var capacity = try capacity(cores: 1.9, costs: measured())
        #expect(try capacity.admit("a") == "veryfast")
        #expect(try capacity.admit("b") == "veryfast")
        #expect(try capacity.admit("c") == "superfast")
        #expect(try capacity.admit("d") == "ultrafast")
        #expect(abs(capacity.load - 1.85) < 1e-9)
        // Admitted recordings count from their creation: none of them has sent a frame.
        #expect(throws: RecordingError.self) { try capacity.admit("e") }
        guard case let .encodersFull(recordings, load, cores, fastest, needs, retryAfter)? = capacity.refusal else {
            Issue.record("a full machine gives its reason")
            return
        }
        #expect(recordings == 4 && abs(load - 1.85) < 1e-9 && cores == 1.9 && fastest == "ultrafast" && abs(needs - 0.2) < 1e-9)
        #expect(retryAfter > 0)
        #expect(capacity.admitted["e"] == nil)
        capacity.release("a")
        #expect(capacity.refusal == nil)
        // 1.20 taken: veryfast would fit (1.85) but leave no room for another camera; superfast does.
        #expect(try capacity.admit("f") == "superfast")
    }

    @Test func roomIsKeptForOneMoreCameraAtTheFastestPresetWhileThereCanBe() throws {
        // 1.45 cores. Taking the slowest preset that fits would give veryfast twice (1.30) and then refuse;
        // keeping room for one more ultrafast (0.20) carries four cameras.
        var capacity = try capacity(cores: 1.45, costs: measured())
        #expect(try capacity.admit("a") == "veryfast")  // 0.65 + 0.20 fits
        #expect(try capacity.admit("b") == "superfast") // 1.30 + 0.20 would not: 1.00 + 0.20
        #expect(try capacity.admit("c") == "ultrafast") // 1.20 + 0.20
        #expect(try capacity.admit("d") == "ultrafast") // the last that fits: 1.40
        #expect(throws: RecordingError.self) { try capacity.admit("e") }
    }

    @Test func aRunningRecordingNeverGetsASlowerPreset() throws {
        // Costs learnt from one second of video: the next seconds move them quickly.
        var capacity = try capacity(cores: 1.9, costs: measured(frames: 27))
        for id in ["a", "b", "c", "d"] { _ = try capacity.admit(id) }
        let before = capacity.admitted
        // The machine turns out faster than thought: new recordings benefit, running ones keep what they have.
        capacity.release("d")
        for _ in 0..<10 { capacity.costs.learnEncode("veryfast", cpu: .milliseconds(300), frames: 27) }
        #expect(capacity.costs.cores("veryfast") < 0.45)
        #expect(capacity.admitted == before.filter { $0.key != "d" })
        #expect(capacity.admitted["c"] == "superfast")
        #expect(try capacity.admit("g") == "veryfast")
    }

    @Test func aFixedPresetIsNeverRefused() throws {
        var capacity = try capacity(cores: 0.5, costs: measured(), policy: .fixed("veryfast"))
        for index in 0..<8 { #expect(try capacity.admit("r\(index)") == "veryfast") }
        #expect(capacity.refusal == nil)
    }

    @Test func presetsNotSeenHereScaleWithTheOnesThatWere() {
        var costs = PresetCosts(size: .hd720, fps: 27)
        #expect(abs(costs.encodeCores("veryfast") - 0.42) < 1e-9)
        // Five seconds of video at twice the reference weigh as much as the reference: halfway.
        costs.learnEncode("veryfast", cpu: .milliseconds(4200), frames: 135)
        #expect(abs(costs.encodeCores("veryfast") - 0.63) < 1e-9)
        // Presets never run here are taken to be 1.5 times theirs too.
        #expect(abs(costs.encodeCores("ultrafast") - 0.255) < 1e-9)
        // Later samples move it by their share of about a minute of video.
        costs.learnEncode("veryfast", cpu: .milliseconds(2100), frames: 135)
        #expect(abs(costs.encodeCores("veryfast") - 0.525) < 1e-9)
        // Half the pixels, half the cost before anything is learnt.
        #expect(abs(PresetCosts(size: FrameSize(width: 640, height: 720), fps: 27).cores("veryfast") - 0.27) < 1e-9)
    }

    @Test func learntCostsAreKeptForTheNextStartOnlyForTheSameSizeAndRate() throws {
        let path = scratch.file("costs.json")
        try measured().save(to: path)
        let same = PresetCosts.load(from: path, size: .hd720, fps: 27)
        #expect(same.costs == measured() && same.problem == nil)
        let other = PresetCosts.load(from: path, size: FrameSize(width: 640, height: 360), fps: 27)
        #expect(other.costs == PresetCosts(size: FrameSize(width: 640, height: 360), fps: 27))
        #expect(other.problem?.contains("holds costs for 1280x720 at 27 fps, not 640x360 at 27") == true)
        var negative = measured()
        negative.perFrame.cores = -1
        for content in [Data("{not json".utf8), try JSONEncoder().encode(negative)] {
            try content.write(to: URL(fileURLWithPath: path))
            let broken = PresetCosts.load(from: path, size: .hd720, fps: 27)
            #expect(broken.costs == PresetCosts(size: .hd720, fps: 27))
            #expect(broken.problem == "\(path) is not a file of encoder costs; it is replaced by figures learnt anew")
        }
    }

    @Test func aRealRecordingTeachesWhatX264AndTheRestCost() async throws {
        var capacity = try capacity(cores: 1.9)
        let settings = testSettings(scratch)
        let session = try RecordingSession(id: "real", spool: scratch.file("real.spool.mp4"), settings: settings,
                                           freeSpace: FreeSpace(path: scratch.path, minimum: 0), preset: "ultrafast")
        _ = try capacity.admit("real")
        capacity.sample([session])
        for index in 0..<60 {
            try await session.append(.init(bytes: try Fixtures.bytes(Fixtures.hd720Frames[index % 3])), clientTimestamp: nil)
        }
        _ = try await session.finish(to: scratch.file("real.mp4"))
        capacity.sample([session])
        let learnt = try #require(capacity.costs.encode["ultrafast"])
        #expect(learnt.frames == 60)
        #expect(learnt.cores > 0 && learnt.cores < 20)
        #expect(capacity.costs.perFrame.frames == 60 && capacity.costs.perFrame.cores > 0)
    }
}

import Foundation
import ReelTestSupport
import Testing

/// Runs the real `reel` executable, as a user would.
// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct TranscodeCommandTests {
    static let fixtures = Fixtures.folder.path

    /// `reel` is built next to the test bundle.
    static var reel: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for folder in [besideTests, besideTests.deletingLastPathComponent()] {
            let candidate = folder.appendingPathComponent("reel").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return Fixtures.folder.deletingLastPathComponent().appendingPathComponent(".build/debug/reel").path
    }

    let folder: ScratchFolder
    var scratch: String { folder.path }

    init() throws { folder = try ScratchFolder() }

    func copyFixtures(_ names: [String], to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (index, name) in names.enumerated() {
            try FileManager.default.copyItem(atPath: Self.fixtures + "/" + name,
                                             toPath: folder + String(format: "/%02d-", index) + name)
        }
    }

    @Test func aFolderWithBadFramesEncodesTheGoodOnesAndNamesTheBadOnes() async throws {
        let frames = scratch + "/frames"
        try copyFixtures(["frame-1280x720-420-1.jpg", "truncated.jpg", "frame-1280x720-420-2.jpg",
                          "cmyk-320x240.jpg", "frame-1280x720-420-3.jpg"], to: frames)
        // A PNG in the folder is not a JPEG by name, so it is not read; given by name it is.
        let png = Self.fixtures + "/not-a-jpeg.png"
        let output = scratch + "/out.mp4"
        let result = try await runReel(["transcode", frames, png, "-o", output, "--fps", "10"])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.text.contains("3 frames"), "\(result.text)")
        #expect(result.text.contains("0.30 s of video"), "\(result.text)")
        #expect(result.text.contains("3 skipped"), "\(result.text)")
        #expect(result.errors.contains("01-truncated.jpg: corrupt JPEG"), "\(result.errors)")
        #expect(result.errors.contains("03-cmyk-320x240.jpg: unsupported JPEG: CMYK colour space"), "\(result.errors)")
        #expect(result.errors.contains("not-a-jpeg.png: not a JPEG"), "\(result.errors)")
        let probe = try await Probe(output)
        #expect(probe.frames == 3 && probe.isFaststart)
    }

    /// A frame refused by the header parser keeps no hold on the frames after it.
    @Test func aFrameWithABrokenHeaderCostsOnlyItself() async throws {
        let good = try Fixtures.bytes("frame-1280x720-420-1.jpg")
        let broken = try #require(JPEGMutations.all(of: good).first { $0.name == "sample precision 12" }).bytes
        let frames = scratch + "/frames"
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        for (index, bytes) in [good, broken, good, good].enumerated() {
            try Data(bytes).write(to: URL(fileURLWithPath: frames + "/\(index).jpg"))
        }
        let output = scratch + "/out.mp4"
        let result = try await runReel(["transcode", frames, "-o", output])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.text.contains("3 frames") && result.text.contains("1 skipped"), "\(result.text)")
        #expect(result.errors.contains("1.jpg: corrupt JPEG"), "\(result.errors)")
        #expect(try await Probe(output).frames == 3)
    }

    @Test func noUsableFrameExitsWithAnError() async throws {
        let frames = scratch + "/bad"
        try copyFixtures(["truncated.jpg", "empty.jpg", "corrupt-scan.jpg"], to: frames)
        let output = scratch + "/none.mp4"
        let result = try await runReel(["transcode", frames, "-o", output])
        #expect(result.status != 0)
        #expect(result.errors.contains("none of the 3 frames could be used"), "\(result.errors)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func badOptionsAreRefusedBeforeAnyWork() async throws {
        for options in [["--fps", "0"], ["--size", "1281x720"], ["--preset", "warp"], ["--crf", "60"],
                        ["--fit", "squash"]] {
            let result = try await runReel(["transcode", Self.fixtures, "-o", scratch + "/x.mp4"] + options)
            #expect(result.status != 0, "\(options)")
            #expect(!result.errors.isEmpty)
        }
        let missing = try await runReel(["transcode", scratch + "/no-such-folder", "-o", scratch + "/x.mp4"])
        #expect(missing.status == 1)
        #expect(missing.errors == "error: \(scratch)/no-such-folder: no such file or folder\n")
        let nowhere = try await runReel(["transcode", Self.fixtures, "-o", scratch + "/no-such-folder/x.mp4"])
        #expect(nowhere.status == 1)
        #expect(nowhere.errors == "error: the output folder \(scratch)/no-such-folder does not exist; create it or write elsewhere with -o\n")
    }

    @Test func aKilledTranscodeLeavesASpoolThatPlays() async throws {
        // Realistic frames: textured, moving, noisy; enough that encoding takes seconds.
        let frames = scratch + "/long"
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        let made = try await run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i",
                                          "testsrc2=size=1280x720:rate=27,noise=alls=20:allf=t",
                                          "-frames:v", "500", "-q:v", "4", frames + "/f-%04d.jpg"])
        #expect(made.status == 0, "\(made.errors)")
        let output = scratch + "/long.mp4"
        let spool = output + ".spool.mp4"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.reel)
        process.arguments = ["transcode", frames, "-o", output, "--preset", "medium", "--threads", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        async let exited: Void = runToExit(process)

        // Wait until a few fragments are on disk, note how many frames they hold, then kill.
        var framesBeforeKill = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(300))
            // Started by `exited` beside this loop; once started, ended means it was too quick.
            guard process.processIdentifier > 0 else { continue }
            guard process.isRunning else { break }
            guard let count = try? await countFrames(spool), count >= 60 else { continue }
            framesBeforeKill = count
            break
        }
        kill(process.processIdentifier, SIGKILL)
        try await exited
        #expect(process.terminationReason == .uncaughtSignal, "transcode ended before it could be killed")
        #expect(framesBeforeKill >= 60)

        let afterKill = try await countFrames(spool)
        #expect(afterKill >= framesBeforeKill, "the spool keeps every frame already written")
        let decode = try await run("ffmpeg", ["-v", "error", "-i", spool, "-f", "null", "-"])
        #expect(decode.status == 0)
    }

    private func countFrames(_ path: String) async throws -> Int {
        let result = try await run("ffprobe", ["-v", "error", "-count_packets", "-select_streams", "v:0",
                                         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path])
        guard result.status == 0, let count = Int(result.text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw ProbeError(message: result.errors) }
        return count
    }

    private func runReel(_ arguments: [String]) async throws -> CommandResult {
        try await run(Self.reel, arguments)
    }
}

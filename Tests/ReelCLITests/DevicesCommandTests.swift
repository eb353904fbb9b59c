import Foundation
import ReelTestSupport
import Testing

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct DevicesCommandTests {
    /// With no camera attached (CI machines), the command says so and fails;
    /// the listing itself is checked against the kernel's vivid driver in a VM (Tests/Vivid).
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/dev/video0")))
    func noCameraIsAClearError() async throws {
        let result = try await run(TranscodeCommandTests.reel, ["devices"])
        #expect(result.status != 0)
        #expect(result.errors.contains("no V4L2 capture device found"), "\(result.errors)")
    }
}

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct EncodeYUYVCommandTests {
    @Test func rawCameraFramesBecomeJPEGs() async throws {
        let scratch = try ScratchFolder()
        let raw = scratch.file("frames.yuyv")
        let made = try await run("ffmpeg", ["-v", "error", "-i", Fixtures.path("frame-1280x720-420-%d.jpg"), "-frames:v", "3",
                                      "-pix_fmt", "yuyv422", "-f", "rawvideo", raw])
        #expect(made.status == 0, "\(made.errors)")
        let result = try await run(TranscodeCommandTests.reel, ["encode-yuyv", raw, "--output-dir", scratch.file("out")])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.text.contains("3 frames 1280x720"), "\(result.text)")
        let probe = try await Probe(scratch.file("out/frame-000002.jpg"))
        #expect(probe.codec == "mjpeg" && probe.width == 1280 && probe.pixelFormat == "yuvj422p")
    }
}

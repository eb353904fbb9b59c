import Foundation
import ReelTestSupport
import Testing

@Suite struct DevicesCommandTests {
    /// With no camera attached (CI machines), the command says so and fails;
    /// the listing itself is checked against the kernel's vivid driver in a VM (Tests/Vivid).
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/dev/video0")))
    func noCameraIsAClearError() throws {
        let result = try run(TranscodeCommandTests.reel, ["devices"])
        #expect(result.status != 0)
        #expect(result.errors.contains("no V4L2 capture device found"), "\(result.errors)")
    }
}

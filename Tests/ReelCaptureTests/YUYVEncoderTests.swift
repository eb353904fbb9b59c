import Foundation
import ReelMedia
import ReelTestSupport
import Testing
@testable import ReelCapture

@Suite struct YUYVEncoderTests {
    /// A fixture as a camera's YUYV buffer, each line padded to `stride` bytes.
    func yuyvFrame(_ name: String, stride: Int) async throws -> [UInt8] {
        let raw = try await run("ffmpeg", ["-v", "error", "-i", Fixtures.path(name), "-pix_fmt", "yuyv422", "-f", "rawvideo", "-"])
        let packed = [UInt8](raw.output)
        #expect(packed.count == 1280 * 720 * 2)
        var padded = [UInt8](repeating: 0, count: stride * 720)
        for row in 0..<720 {
            padded[row * stride..<row * stride + 2560] = packed[row * 2560..<(row + 1) * 2560]
        }
        return padded
    }

    func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        let mse = zip(a, b).reduce(0.0) { $0 + pow(Double(Int($1.0) - Int($1.1)), 2) } / Double(a.count)
        return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
    }

    @Test func rawFramesBecomeJPEGsThatMatchTheSource() async throws {
        let encoder = try YUYVEncoder(width: 1280, height: 720, quality: 85)
        let frame = try await yuyvFrame("frame-1280x720-420-1.jpg", stride: 2560 + 64)
        let jpeg = try frame.withUnsafeBytes { try encoder.encode($0, stride: 2560 + 64) }
        let decoder = FrameDecoder(outputRange: .full)
        let info = try jpeg.withUnsafeBytes { try decoder.inspect($0) }
        #expect(info.sampling == .yuv422 && info.size == .hd720)
        // Against the luma the camera sent: the loss of quality 85 alone.
        let encoded = try decoder.decode(jpeg).samples(plane: 0)
        let sent = (0..<720).flatMap { row in (0..<1280).map { frame[row * (2560 + 64) + $0 * 2] } }
        let value = psnr(encoded, sent)
        #expect(value > 33, "luma PSNR \(value) dB")
        // The encoder is reused frame after frame.
        let again = try frame.withUnsafeBytes { try encoder.encode($0, stride: 2560 + 64) }
        #expect(again == jpeg)
    }

    @Test func framesOfTheWrongShapeAreRefused() throws {
        #expect(throws: YUYVEncoder.Failure.self) { _ = try YUYVEncoder(width: 641, height: 480) }
        let encoder = try YUYVEncoder(width: 640, height: 480)
        let short = [UInt8](repeating: 128, count: 640 * 2 * 479)
        #expect(throws: YUYVEncoder.Failure.self) { _ = try short.withUnsafeBytes { try encoder.encode($0) } }
    }
}

import Foundation
import ReelMedia
import ReelTestSupport
import Testing
@testable import ReelCapture

@Suite struct CameraJPEGTests {
    func check(_ bytes: [UInt8]) -> CameraJPEG.Problem? {
        bytes.withUnsafeBytes { frame in
            do throws(CameraJPEG.Problem) {
                try CameraJPEG.check(frame)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func brokenCameraFramesAreNamed() throws {
        let good = try Fixtures.bytes("frame-1280x720-420-1.jpg")
        #expect(check(good) == nil)
        #expect(check(good + [0, 0, 0, 0]) == nil, "padding after EOI is allowed")
        #expect(check(Array(good.prefix(100))) == .tooSmall(bytes: 100))
        #expect(check(try Fixtures.bytes("not-a-jpeg.png")) == .noStartOfImage)
        #expect(check(try Fixtures.bytes("truncated.jpg")) == .noEndOfImage)
        #expect(check(Array(good.dropLast(2)) + [0xFF]) == .noEndOfImage)
    }

    /// The JPEG without its DHT segments, as a UVC camera sends MJPEG.
    func withoutHuffmanTables(_ jpeg: [UInt8]) -> [UInt8] {
        var result = Array(jpeg.prefix(2)), index = 2
        while index < jpeg.count {
            let marker = jpeg[index + 1]
            if marker == 0xDA { return result + jpeg[index...] }
            let length = Int(jpeg[index + 2]) << 8 | Int(jpeg[index + 3])
            if marker != 0xC4 { result += jpeg[index..<index + 2 + length] }
            index += 2 + length
        }
        return result
    }

    @Test func framesWithoutHuffmanTablesGetTheStandardOnesBeforeTheirScan() async throws {
        // libjpeg-turbo codes with the standard tables, as cameras do.
        let raw = try await run("ffmpeg", ["-v", "error", "-i", Fixtures.path("webcam-640x480-422.jpg"),
                                     "-pix_fmt", "yuyv422", "-f", "rawvideo", "-"]).output
        let original = try [UInt8](raw).withUnsafeBytes { try YUYVEncoder(width: 640, height: 480).encode($0) }
        let stripped = withoutHuffmanTables(original)
        #expect(stripped.count < original.count - 400)
        #expect(!stripped.contains(segment: [0xFF, 0xC4]))
        // libjpeg-turbo falls back to these tables itself; browsers and other
        // decoders need them in the file.
        let repaired = CameraJPEG.withHuffmanTables(stripped)
        #expect(repaired.count == stripped.count + 420)
        let sos = try #require(repaired.firstRange(of: [0xFF, 0xDA]))
        #expect(Array(repaired[sos.lowerBound - 420..<sos.lowerBound]) == CameraJPEG.standardHuffmanTables)
        let decoder = FrameDecoder(outputRange: .full)
        let expected = try decoder.decode(original).samples(plane: 0)
        #expect(try decoder.decode(repaired).samples(plane: 0) == expected)
        #expect(CameraJPEG.withHuffmanTables(original) == original, "a frame with tables is left alone")
    }
}

extension Array where Element == UInt8 {
    func contains(segment: [UInt8]) -> Bool { firstRange(of: segment) != nil }
}

@Suite struct FourCCTests {
    @Test func codesReadAsTheirLetters() {
        #expect(fourCC(0x5659_5559) == "YUYV")
        #expect(fourCC(0x4750_4A4D) == "MJPG")
    }
}

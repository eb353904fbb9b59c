import Foundation
import Testing
@testable import ReelMedia
import ReelTestSupport

@Suite struct FrameDecoderTests {
    static let goodFixtures: [(String, JPEGInfo.Sampling, FrameSize)] = [
        ("frame-1280x720-420-1.jpg", .yuv420, FrameSize(width: 1280, height: 720)),
        ("webcam-640x480-422.jpg", .yuv422, FrameSize(width: 640, height: 480)),
        ("full-1920x1080-420.jpg", .yuv420, FrameSize(width: 1920, height: 1080)),
        ("frame-1280x720-444.jpg", .yuv444, FrameSize(width: 1280, height: 720)),
        ("frame-1280x720-440.jpg", .yuv440, FrameSize(width: 1280, height: 720)),
        ("gray-1280x720.jpg", .gray, FrameSize(width: 1280, height: 720)),
        ("progressive-1280x720.jpg", .yuv420, FrameSize(width: 1280, height: 720)),
        ("odd-641x479.jpg", .yuv420, FrameSize(width: 641, height: 479)),
    ]

    @Test(arguments: goodFixtures)
    func goodFramesDecodeToTheOutputSize(name: String, sampling: JPEGInfo.Sampling, size: FrameSize) throws {
        let decoder = FrameDecoder()
        let bytes = try Fixtures.bytes(name)
        let info = try bytes.withUnsafeBytes { try decoder.inspect($0) }
        #expect(info.sampling == sampling)
        #expect(info.size == size)
        let picture = try decoder.decode(bytes)
        #expect(picture.size == .hd720)
        let luma = picture.samples(plane: 0)
        #expect(luma.count == 1280 * 720)
        // Limited range: scaling may ring a little past black and white, no more.
        let outside = luma.filter { $0 < 16 || $0 > 235 }.count
        #expect(outside * 200 < luma.count, "\(outside) samples outside 16-235")
        #expect(Set(luma).count > 50, "a textured frame has many levels")
    }

    @Test func pillarboxBordersAreBlackAndPictureIsNot() throws {
        let picture = try FrameDecoder().decode(try Fixtures.bytes("webcam-640x480-422.jpg"))
        let luma = picture.samples(plane: 0), chroma = picture.samples(plane: 1)
        for row in stride(from: 0, to: 720, by: 37) {
            #expect(luma[row * 1280 + 0] == 16 && luma[row * 1280 + 159] == 16 && luma[row * 1280 + 1279] == 16)
            #expect(chroma[(row / 2) * 640 + 10] == 128)
        }
        let inside = (0..<720).map { luma[$0 * 1280 + 640] }
        #expect(Set(inside).count > 10)
    }

    @Test func grayFramesHaveNeutralChroma() throws {
        let picture = try FrameDecoder().decode(try Fixtures.bytes("gray-1280x720.jpg"))
        #expect(Set(picture.samples(plane: 1)) == [128])
        #expect(Set(picture.samples(plane: 2)) == [128])
    }

    @Test func fullRangeOutputKeepsTheJPEGLevels() throws {
        let bytes = try Fixtures.bytes("gray-ramp-1280x720.jpg")
        let full = try FrameDecoder(outputRange: .full).decode(bytes).samples(plane: 0)
        let limited = try FrameDecoder(outputRange: .limited).decode(bytes).samples(plane: 0)
        #expect(full.min()! <= 2 && full.max()! >= 253)
        #expect(limited.min()! >= 16 && limited.max()! <= 235)
        #expect(limited.max()! >= 233)
    }

    @Test func limitedRangeIsEveryLevelRoundedToTheNearest() throws {
        let bytes = try Fixtures.bytes("gray-ramp-1280x720.jpg")
        let full = try FrameDecoder(outputRange: .full).decode(bytes)
        let limited = try FrameDecoder(outputRange: .limited).decode(bytes)
        for (plane, scale) in [(0, 219.0), (1, 224.0), (2, 224.0)] {
            let expected = full.samples(plane: plane).map { UInt8((Double($0) * scale / 255).rounded() + 16) }
            #expect(limited.samples(plane: plane) == expected)
        }
    }

    @Test func theEncodersPicturesAreRecycledOnlyWhenNobodyElseHoldsThem() throws {
        let pool = FramePool(capacity: 1)
        var first = try pool.picture(size: .hd720, range: .limited)
        let identity = ObjectIdentifier(first)
        pool.recycle(&first)
        var second = try pool.picture(size: .hd720, range: .limited)
        #expect(ObjectIdentifier(second) == identity)
        let holder = second
        pool.recycle(&second)
        #expect(ObjectIdentifier(try pool.picture(size: .hd720, range: .limited)) != identity)
        _ = holder
    }

    static let badFixtures: [(String, String)] = [
        ("truncated.jpg", "corrupt"),
        ("corrupt-scan.jpg", "corrupt"),
        ("not-a-jpeg.png", "notJPEG"),
        ("empty.jpg", "empty"),
        ("cmyk-320x240.jpg", "CMYK"),
    ]

    @Test(arguments: badFixtures)
    func badFramesGiveTheirNamedError(name: String, expected: String) throws {
        let decoder = FrameDecoder()
        do {
            _ = try decoder.decode(try Fixtures.bytes(name))
            Issue.record("\(name) decoded")
        } catch let error as MediaError {
            #expect(error.refusesOnlyTheFrame)
            switch (expected, error) {
            case ("corrupt", .corruptJPEG(let reason)): #expect(!reason.isEmpty)
            case ("notJPEG", .notJPEG), ("empty", .empty): break
            case ("CMYK", .unsupportedJPEG(let kind)): #expect(kind.contains("CMYK"))
            default: Issue.record("\(name) gave \(error), expected \(expected)")
            }
        }
        // The decoder goes on with the next good frame.
        let picture = try decoder.decode(try Fixtures.bytes("frame-1280x720-420-1.jpg"))
        #expect(picture.size == .hd720)
    }

    /// A frame refused in the header parser once left libjpeg-turbo's handle
    /// mid-stream and every later frame was refused too.
    @Test func noBrokenFrameHarmsTheNextGoodOne() throws {
        let good = try Fixtures.bytes("frame-1280x720-420-1.jpg")
        let decoder = FrameDecoder()
        for (name, bytes) in JPEGMutations.all(of: good) {
            do {
                _ = try decoder.decode(bytes)
            } catch let error as MediaError {
                #expect(error.refusesOnlyTheFrame, "\(name): \(error)")
            }
            #expect(throws: Never.self, "the good frame after \(name)") { _ = try decoder.decode(good) }
        }
    }

    @Test func framesOverTheSizeLimitAreRefusedBeforeDecoding() throws {
        let decoder = FrameDecoder(maxSize: .hd720)
        #expect(throws: MediaError.tooLarge(width: 1920, height: 1080, maxWidth: 1280, maxHeight: 720)) {
            _ = try decoder.decode(try Fixtures.bytes("full-1920x1080-420.jpg"))
        }
    }

    @Test func aPNGWithAJPEGNameIsNotAJPEG() throws {
        #expect(throws: MediaError.notJPEG) {
            _ = try FrameDecoder().decode([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        }
    }
}

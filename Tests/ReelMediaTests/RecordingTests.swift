import Foundation
import Testing
@testable import ReelMedia
import ReelTestSupport

@Suite struct RecordingTests {
    @Test func goodFramesEncodeAndBadOnesAreRefusedWithoutStoppingTheRecording() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("mixed.mp4")
        let names = ["frame-1280x720-420-1.jpg", "truncated.jpg", "webcam-640x480-422.jpg", "not-a-jpeg.png",
                     "full-1920x1080-420.jpg", "empty.jpg", "frame-1280x720-444.jpg", "corrupt-scan.jpg",
                     "frame-1280x720-440.jpg", "cmyk-320x240.jpg", "gray-1280x720.jpg",
                     "progressive-1280x720.jpg", "odd-641x479.jpg", "frame-1280x720-420-2.jpg"]
        let (summary, refused) = try record(names, to: output)
        #expect(Set(refused.keys) == ["truncated.jpg", "not-a-jpeg.png", "empty.jpg", "corrupt-scan.jpg",
                                      "cmyk-320x240.jpg"])
        #expect(summary.frames == 9)

        let probe = try await Probe(output)
        #expect(probe.codec == "h264")
        #expect(probe.pixelFormat == "yuv420p")
        #expect(probe.width == 1280 && probe.height == 720)
        #expect(probe.frames == 9)
        #expect(abs(probe.duration - 9.0 / 27) < 0.001)
        #expect(abs(summary.duration - 9.0 / 27) < 0.001)
        #expect(probe.isFaststart, "boxes: \(probe.boxes)")
        #expect(summary.bytes == (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int))
        #expect(!FileManager.default.fileExists(atPath: output + ".spool"), "the spool is removed")
    }

    @Test func theThumbnailIsASmallJPEGOfTheFrameOneSecondIn() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("thumbnailed.mp4")
        let encoded = Counted()
        let observer = EncoderObserver(frameEncoded: { _ in encoded.add() })
        // At 2 fps the frame one second in is the third.
        let recording = try Recording(spoolPath: output + ".spool", settings: EncoderSettings(fps: 2, preset: "ultrafast"),
                                      observer: observer)
        #expect(try recording.thumbnail() == nil)
        for name in Fixtures.hd720Frames + [Fixtures.hd720Frames[0]] { try recording.append(jpeg: try Fixtures.bytes(name)) }
        _ = try recording.finish(to: output)
        #expect(encoded.value == 4)
        let thumbnail = try #require(try recording.thumbnail(width: 320))
        let path = scratch.file("thumbnail.jpg")
        try Data(thumbnail).write(to: URL(fileURLWithPath: path))
        #expect(thumbnail.count < 40_000, "\(thumbnail.count) bytes")
        let info = try thumbnail.withUnsafeBytes { try FrameDecoder().inspect($0) }
        #expect(info.size == FrameSize(width: 320, height: 180))
        let small = FrameSize(width: 320, height: 180)
        let picture = try await rgbFrames(path, size: small)[0]
        let third = psnr(picture, try await rgbFrames(Fixtures.path(Fixtures.hd720Frames[2]), size: small)[0])
        let first = psnr(picture, try await rgbFrames(Fixtures.path(Fixtures.hd720Frames[0]), size: small)[0])
        #expect(third > 28, "PSNR \(third) dB")
        #expect(third > first + 3, "the third frame (\(third) dB) and not the first (\(first) dB)")
    }

    @Test func aFrameAfterFinishIsRefusedWithoutHarm() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("closed.mp4")
        let recording = try Recording(spoolPath: output + ".spool", settings: EncoderSettings(preset: "ultrafast"))
        let frame = try Fixtures.bytes(Fixtures.hd720Frames[0])
        try recording.append(jpeg: frame)
        _ = try recording.finish(to: output)
        #expect(throws: MediaError.recordingFinished) { try recording.append(jpeg: frame) }
        #expect(try await Probe(output).frames == 1)
    }

    @Test func aPictureDecodedFromAFinishedMP4MatchesItsSourceFrame() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("still.mp4")
        // At 2 fps, one second in is the third frame; 10 s in is past the end: the last.
        _ = try record(Fixtures.hd720Frames + [Fixtures.hd720Frames[0]], to: output,
                       settings: EncoderSettings(fps: 2, preset: "ultrafast"))
        let small = FrameSize(width: 320, height: 180)
        for (seconds, expected) in [(1.0, Fixtures.hd720Frames[2]), (10.0, Fixtures.hd720Frames[0])] {
            let picture = try VideoFrame.picture(inMP4: output, at: seconds)
            #expect(picture.size == .hd720)
            let path = scratch.file("still-\(Int(seconds)).jpg")
            try Data(try picture.jpegThumbnail()).write(to: URL(fileURLWithPath: path))
            let value = psnr(try await rgbFrames(path, size: small)[0], try await rgbFrames(Fixtures.path(expected), size: small)[0])
            #expect(value > 28, "\(seconds) s: PSNR \(value) dB against \(expected)")
        }
        let notVideo = scratch.file("not-a-video.mp4")
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: notVideo))
        #expect(throws: MediaError.self) { try VideoFrame.picture(inMP4: notVideo, at: 1) }
    }

    @Test func settingsReachTheFile() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("small.mp4")
        let settings = EncoderSettings(size: FrameSize(width: 640, height: 360), fps: 10, preset: "ultrafast", crf: 30)
        let (summary, _) = try record(Fixtures.hd720Frames + Fixtures.hd720Frames, to: output, settings: settings)
        let probe = try await Probe(output)
        #expect(probe.width == 640 && probe.height == 360)
        #expect(probe.frames == 6)
        #expect(abs(probe.duration - 0.6) < 0.001)
        #expect(summary.frames == 6)
    }

    @Test func timestampsSetTheDurationOfEachFrame() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("timed.mp4")
        let settings = EncoderSettings(fps: 15, timing: .timestamps)
        let recording = try Recording(spoolPath: output + ".spool", settings: settings)
        let frame = try Fixtures.bytes(Fixtures.hd720Frames[0])
        // 30 frames at 100 ms intervals: 3 s at real speed, not 30/15 = 2 s.
        for index in 0..<30 { try recording.append(jpeg: frame, pts: Int64(index * 100)) }
        _ = try recording.finish(to: output)
        let probe = try await Probe(output)
        #expect(probe.frames == 30)
        #expect(abs(probe.duration - 3.0) < 0.11)
    }

    @Test func qualityOfTheOutputAgainstTheSourceFrames() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("quality.mp4")
        _ = try record(Fixtures.hd720Frames, to: output)
        let decoded = try await rgbFrames(output, size: .hd720)
        #expect(decoded.count == 3)
        for (index, name) in Fixtures.hd720Frames.enumerated() {
            let source = try await rgbFrames(Fixtures.path(name), size: .hd720)[0]
            let value = psnr(decoded[index], source)
            #expect(value > 30, "\(name): PSNR \(value) dB")
        }
    }

    @Test func scaledFramesMatchTheSourceScaledTheSameWay() async throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("scaled.mp4")
        _ = try record(["webcam-640x480-422.jpg"], to: output)
        let decoded = try await rgbFrames(output, size: .hd720)[0]
        let reference = try await rgbFrames(Fixtures.path("webcam-640x480-422.jpg"), size: .hd720,
                                      extraFilter: "scale=960:720,pad=1280:720:160:0:black")[0]
        let value = psnr(decoded, reference)
        #expect(value > 28, "PSNR \(value) dB")
    }

    @Test(arguments: [ColorRange.limited, .full])
    func coloursAndLevelsSurviveTheEncode(range: ColorRange) async throws {
        let scratch = try ScratchFolder()
        let settings = EncoderSettings(range: range)
        for name in ["gray-ramp-1280x720.jpg", "colour-bars-1280x720.jpg"] {
            let output = scratch.file(name + ".mp4")
            _ = try record([name, name, name], to: output, settings: settings)
            #expect(try await Probe(output).colorRange == (range == .full ? "pc" : "tv"))
            let decoded = try await rgbFrames(output, size: .hd720)[2]
            let source = try await rgbFrames(Fixtures.path(name), size: .hd720)[0]
            // Mean of each channel over 32 vertical bands, away from the band edges.
            for band in 0..<32 {
                for channel in 0..<3 {
                    let columns = (band * 40 + 8)..<(band * 40 + 32)
                    func mean(_ picture: [UInt8]) -> Double {
                        var sum = 0
                        for row in stride(from: 100, to: 620, by: 4) {
                            for column in columns { sum += Int(picture[(row * 1280 + column) * 3 + channel]) }
                        }
                        return Double(sum) / Double(130 * columns.count)
                    }
                    let difference = abs(mean(decoded) - mean(source))
                    #expect(difference <= 2, "\(name) \(range) band \(band) channel \(channel): \(difference)")
                }
            }
        }
    }

    @Test func aRecordingWithoutFramesLeavesNoFile() throws {
        let scratch = try ScratchFolder()
        let output = scratch.file("none.mp4")
        let recording = try Recording(spoolPath: output + ".spool")
        #expect(throws: MediaError.noFrames) { try recording.finish(to: output) }
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(!FileManager.default.fileExists(atPath: output + ".spool"))
    }

    /// Found by fuzzing: a 64-bit box size near 2^64 overflowed the walker's arithmetic.
    @Test func aBoxClaimingEverySizeIsCutNotACrash() throws {
        let scratch = try ScratchFolder()
        let spool = scratch.file("huge-box.spool")
        let ftyp: [UInt8] = [0, 0, 0, 16] + Array("ftypiso5".utf8) + [0, 0, 2, 0]
        let huge: [UInt8] = [0, 0, 0, 1] + Array("moof".utf8) + [UInt8](repeating: 0xFF, count: 8) + [0, 0, 0, 0]
        try Data(ftyp + huge).write(to: URL(fileURLWithPath: spool))
        #expect(try SpoolFile.cutIncompleteTail(path: spool) == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: spool)[.size] as? Int == ftyp.count)
    }

    @Test func aHalfWrittenSpoolIsCutAfterItsLastCompleteFragment() async throws {
        let scratch = try ScratchFolder()
        let spool = scratch.file("live.spool")
        let encoder = try VideoEncoder(path: spool, settings: EncoderSettings(size: FrameSize(width: 320, height: 180)))
        let decoder = FrameDecoder(outputSize: FrameSize(width: 320, height: 180))
        let frames = try Fixtures.hd720Frames.map { try decoder.decode(try Fixtures.bytes($0)) }
        // 4 s of frames, never finished: what a killed process leaves.
        for index in 0..<108 { try encoder.encode(frames[index % 3]) }
        let copy = scratch.file("killed.spool")
        try FileManager.default.copyItem(atPath: spool, toPath: copy)
        let boxes = try topLevelBoxes(copy)
        #expect(boxes.filter { $0 == "moof" }.count >= 6, "a fragment every half second: \(boxes)")

        // On disk before the cut: all but the encoder's delay (lookahead, B-frames,
        // frame threads: about 20 frames) and the open half-second fragment.
        let written = try await Probe(copy).frames
        #expect(written >= 108 - 34, "\(written) of 108 frames written")

        // Cut the last fragment in half, as a kill mid-write would.
        let complete = try Data(contentsOf: URL(fileURLWithPath: copy))
        let lastFragment = try #require(complete.lastRange(of: Data("moof".utf8)))
        let cutAt = lastFragment.lowerBound + (complete.count - lastFragment.lowerBound) / 2
        try complete.prefix(cutAt).write(to: URL(fileURLWithPath: copy))

        let kept = try SpoolFile.cutIncompleteTail(path: copy)
        let recovered = scratch.file("recovered.mp4")
        let summary = try MP4Remuxer.faststart(from: copy, to: recovered)
        #expect(summary.frames == kept, "the samples counted in the kept fragments")
        let probe = try await Probe(recovered)
        #expect(probe.isFaststart)
        #expect(probe.frames == summary.frames)
        // Only the torn fragment (at most half a second of frames) is lost.
        #expect(probe.frames < written && probe.frames >= written - 14, "kept \(probe.frames) of \(written)")
        let check = try await run("ffmpeg", ["-v", "error", "-i", recovered, "-f", "null", "-"])
        #expect(check.status == 0 && check.errors.isEmpty, "\(check.errors)")
        withExtendedLifetime(encoder) {}
    }

    @Test func manyRecordingsLeaveNoOpenFiles() throws {
        let scratch = try ScratchFolder()
        let settings = EncoderSettings(size: FrameSize(width: 320, height: 180), preset: "ultrafast")
        let frame = try Fixtures.bytes(Fixtures.hd720Frames[0])
        // Tests run in parallel: count only descriptors open on this test's own files.
        func openFiles() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
                return target?.hasPrefix(scratch.path) == true
            }.count
        }
        var openDuringRecording = 0
        for round in 0..<6 {
            let recording = try Recording(spoolPath: scratch.file("\(round).spool"), settings: settings)
            for _ in 0..<40 { try recording.append(jpeg: frame) }
            openDuringRecording = max(openDuringRecording, try openFiles())
            #expect(throws: MediaError.self) { try recording.append(jpeg: [0xFF, 0xD8, 0x00]) }
            // Half are finished, half abandoned: both must close everything.
            if round.isMultiple(of: 2) { _ = try recording.finish(to: scratch.file("\(round).mp4")) }
        }
        #expect(openDuringRecording >= 1, "the check sees the spool while it is open")
        #expect(try openFiles() == 0)
    }
}

/// A count that a closure on another thread can bump.
final class Counted: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

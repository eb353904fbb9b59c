import Foundation
import Testing
@testable import ReelMedia
import ReelTestSupport

@Suite struct FragmentIndexTests {
    /// The top-level boxes of `bytes[range]`, or nil when a box runs past its end.
    private func boxes(_ bytes: [UInt8], _ range: Range<Int>) -> [String]? {
        var names: [String] = [], offset = range.lowerBound
        while offset < range.upperBound {
            guard offset + 8 <= range.upperBound else { return nil }
            let size = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard size >= 8, offset + size <= range.upperBound else { return nil }
            names.append(String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self))
            offset += size
        }
        return names
    }

    @Test func everyFragmentIsListedOnlyOnceCompleteOnDisk() async throws {
        let scratch = try ScratchFolder()
        let spool = scratch.file("live.spool")
        let encoder = try VideoEncoder(path: spool, settings: EncoderSettings(size: FrameSize(width: 320, height: 180)))
        let decoder = FrameDecoder(outputSize: FrameSize(width: 320, height: 180))
        let frames = try Fixtures.hd720Frames.map { try decoder.decode(try Fixtures.bytes($0)) }
        let start = encoder.fragments.current
        #expect(start.fragments.isEmpty && !start.ended)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: spool)))
        #expect(boxes(onDisk, 0..<start.initLength) == ["ftyp", "moov"], "the init segment is written at once")

        for index in 0..<108 {
            try encoder.encode(frames[index % 3])
            // What the index lists is in the file, and is whole fragments: moof, mdat, moof, mdat…
            let snapshot = encoder.fragments.current
            let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: spool)))
            #expect(file.count >= snapshot.completeLength)
            for fragment in snapshot.fragments {
                #expect(boxes(file, fragment.offset..<fragment.end) == ["moof", "mdat"], "fragment \(fragment)")
            }
        }
        let summary = try encoder.finish()
        let index = encoder.fragments.current
        #expect(index.ended)
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: spool)))
        // The fragments tile the file from the init segment to the trailer's index.
        var offset = index.initLength
        for fragment in index.fragments {
            #expect(fragment.offset == offset)
            offset = fragment.end
        }
        #expect(boxes(file, offset..<file.count) == ["mfra"])
        #expect(index.fragments.count >= 8, "a fragment at least every half second")
        #expect(abs(index.fragments.map(\.duration).reduce(0, +) - summary.duration) < 1e-9)
        #expect(!index.fragments.contains { $0.duration > 0.5 + 1.0 / 27 + 1e-9 }, "\(index.fragments.map(\.duration))")
        // A keyframe every 2 s (and perhaps at a scene cut): fragments start at them.
        #expect(index.fragments.first?.startsWithKeyframe == true)
        #expect(index.fragments.filter(\.startsWithKeyframe).count >= 2)
        #expect(index.fragments.contains { !$0.startsWithKeyframe })
    }

    /// Seconds from keyframe to keyframe of frames sent every `step` ms for `seconds`.
    private func keyframeRuns(everyMilliseconds step: Int64, seconds: Int64) throws -> [Double] {
        let scratch = try ScratchFolder()
        let settings = EncoderSettings(size: FrameSize(width: 320, height: 180), keyframeInterval: 2, timing: .timestamps)
        let encoder = try VideoEncoder(path: scratch.file("camera.spool"), settings: settings)
        let decoder = FrameDecoder(outputSize: FrameSize(width: 320, height: 180))
        let frames = try Fixtures.hd720Frames.map { try decoder.decode(try Fixtures.bytes($0)) }
        for index in 0..<Int(seconds * 1000 / step) { try encoder.encode(frames[index % 3], pts: Int64(index) * step) }
        try encoder.finish()
        var runs: [Double] = [], run = 0.0
        for fragment in encoder.fragments.current.fragments {
            if fragment.startsWithKeyframe, run > 0 { runs.append(run); run = 0 }
            run += fragment.duration
        }
        return runs
    }

    @Test func keyframesComeEveryIntervalOfVideoOrOfFramesWhicheverIsFirst() throws {
        // 10 fps: 54 frames (the interval at 27 fps) would be 5.4 s; a keyframe every 2 s instead.
        let slow = try keyframeRuns(everyMilliseconds: 100, seconds: 7)
        #expect(slow.count == 3 && !slow.contains { abs($0 - 2.0) > 1e-9 }, "\(slow)")
        // 30 fps: every 54 frames (1.8 s), and never a second keyframe just after one.
        let fast = try keyframeRuns(everyMilliseconds: 33, seconds: 7)
        #expect(fast.count == 3 && !fast.contains { abs($0 - 54 * 0.033) > 1e-9 }, "\(fast)")
    }

    @Test func aWaitEndsWithNewFragmentsTheEndOrItsTimeout() async throws {
        let index = FragmentIndex()
        index.setInitLength(100)
        let timedOut = await index.waitForChange(beyond: 0, timeout: .milliseconds(20))
        #expect(timedOut.fragments.isEmpty)

        async let woken = index.waitForChange(beyond: 0, timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(20))
        index.add(Fragment(offset: 100, length: 50, duration: 0.5, startsWithKeyframe: true))
        #expect(await woken.fragments.count == 1)

        // Already beyond: no wait at all.
        #expect(await index.waitForChange(beyond: 0, timeout: .seconds(30)).completeLength == 150)
        async let ended = index.waitForChange(beyond: 1, timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(20))
        index.end()
        #expect(await ended.ended)
        #expect(await index.waitForChange(beyond: 1, timeout: .seconds(30)).ended)
    }
}

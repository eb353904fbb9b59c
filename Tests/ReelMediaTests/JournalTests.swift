import CFFmpeg
import Foundation
import Testing
@testable import ReelMedia
import ReelTestSupport

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct JournalTests {
    /// The files a killed process leaves: the spool and journal as they are on
    /// disk at one moment, copied while the encoder is still writing.
    static func snapshot(of recording: Recording, into folder: String) throws -> String {
        let spool = folder + "/snap.spool.mp4"
        try FileManager.default.copyItem(atPath: recording.spoolPath, toPath: spool)
        try FileManager.default.copyItem(atPath: FrameJournal.folder(forSpool: recording.spoolPath),
                                         toPath: FrameJournal.folder(forSpool: spool))
        return spool
    }

    @Test(arguments: [EncoderSettings.Timing.constantRate, .timestamps])
    func everyAcceptedFrameSurvivesAKillAtAnyMoment(timing: EncoderSettings.Timing) async throws {
        let scratch = try ScratchFolder()
        let frames = try Fixtures.hd720Frames.map { try Fixtures.bytes($0) }
        // veryfast: B-frames, so packets are written out of presentation order.
        let settings = EncoderSettings(preset: "veryfast", threads: 1, timing: timing)
        let recording = try Recording(spoolPath: scratch.file("live.spool.mp4"), settings: settings, journaled: true)
        // Kill moments: early (no fragment yet), mid-recording, and later.
        var snapshots: [(frames: Int, spool: String)] = []
        for index in 0..<130 {
            try recording.append(jpeg: frames[index % 3], pts: timing == .timestamps ? Int64(500 + index * 41) : nil)
            if [3, 40, 77, 129].contains(index) {
                let folder = scratch.file("kill-\(index)")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                snapshots.append((index + 1, try Self.snapshot(of: recording, into: folder)))
            }
        }
        var journalOnly = 0
        for (accepted, spool) in snapshots {
            _ = try SpoolFile.cutIncompleteTail(path: spool)
            let inSpool = try SpoolRestorer.frameTimes(in: spool, timeBase: AVRational(num: 1, den: settings.timeScale)).count
            journalOnly += accepted - inSpool
            let output = spool + ".restored.mp4"
            let summary = try SpoolRestorer.restore(spool: spool, to: output)
            let probe = try await Probe(output)
            #expect(summary.frames == accepted && probe.frames == accepted, "\(accepted) frames accepted, \(probe.frames) restored")
            #expect(probe.isFaststart)
            // Where spool and re-encoded frames meet, every frame still decodes.
            let decode = try await run("ffmpeg", ["-v", "error", "-i", output, "-f", "null", "-"])
            #expect(decode.errors.isEmpty, "\(decode.errors)")
            if timing == .constantRate {
                #expect(abs(probe.duration - Double(accepted) / 27) < 0.01, "\(probe.duration) s for \(accepted) frames")
            }
        }
        #expect(journalOnly > 0, "some accepted frames were only in the journal")
        _ = try recording.finish(to: scratch.file("whole.mp4"))
        #expect(!FileManager.default.fileExists(atPath: FrameJournal.folder(forSpool: recording.spoolPath)),
                "the journal goes with the spool")
    }

    @Test func theJournalKeepsOnlyFramesNotYetInDurableFragments() throws {
        let scratch = try ScratchFolder()
        let frame = try Fixtures.bytes(Fixtures.hd720Frames[0])
        let recording = try Recording(spoolPath: scratch.file("trim.spool.mp4"),
                                      settings: EncoderSettings(preset: "ultrafast", threads: 1), journaled: true)
        for _ in 0..<270 { try recording.append(jpeg: frame) }
        let folder = FrameJournal.folder(forSpool: recording.spoolPath)
        let kept = JournalContents(folder: folder).frames.count
        #expect(kept < 120, "\(kept) of 270 frames still journaled")
        #expect(recording.journalBytes >= 270 * frame.count)
        _ = try recording.finish(to: scratch.file("trim.mp4"))
    }

    @Test func aCutRecordRestoresTheFramesBeforeIt() throws {
        let scratch = try ScratchFolder()
        let frame = try Fixtures.bytes(Fixtures.hd720Frames[1])
        let recording = try Recording(spoolPath: scratch.file("torn.spool.mp4"),
                                      settings: EncoderSettings(preset: "ultrafast", threads: 1), journaled: true)
        for _ in 0..<10 { try recording.append(jpeg: frame) }
        let spool = try Self.snapshot(of: recording, into: scratch.path)
        // The process died in the middle of writing an eleventh frame.
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: FrameJournal.folder(forSpool: spool)).first)
        let handle = try #require(FileHandle(forWritingAtPath: FrameJournal.folder(forSpool: spool) + "/" + segment))
        try handle.seekToEnd()
        try handle.write(contentsOf: FrameJournal.littleEndian(UInt32(frame.count)) + [1, 2, 3])
        try handle.close()
        let summary = try SpoolRestorer.restore(spool: spool, to: scratch.file("torn.mp4"))
        #expect(summary.frames == 10)
        _ = try recording.finish(to: scratch.file("whole.mp4"))
    }

    @Test func aClosedPrefixEndsBeforeTheFirstFrameItLacks() {
        // Decode order of I0 P4 B2 b1 b3 P8 B6 b5 b7; times in frames.
        #expect(SpoolRestorer.closedPrefix([0, 4, 2, 1, 3, 8, 6], missing: [5, 7, 9]) == 5)
        #expect(SpoolRestorer.closedPrefix([0, 4, 2, 1], missing: [3, 5]) == 1)
        #expect(SpoolRestorer.closedPrefix([0, 1, 2], missing: []) == 3)
        #expect(SpoolRestorer.closedPrefix([], missing: [0, 1]) == 0)
    }
}

import Foundation
import Logging
import NIOCore
import ReelMedia
import ReelStorage
import ReelTestSupport
import Testing
@testable import ReelServer

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct RecorderTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    func recorder(clock: ManualClock? = nil, _ change: (inout ServerSettings) -> Void = { _ in }) async throws -> Recorder {
        let settings = testSettings(scratch, change)
        let now: @Sendable () -> ContinuousClock.Instant
        if let clock { now = { clock.now } } else { now = { .now } }
        return try await Recorder(settings: settings, storage: try LocalDiskStorage(folder: settings.storageDirectory),
                            logger: Logger(label: "reel-test"), now: now)
    }

    func frame(_ name: String) throws -> ByteBuffer { ByteBuffer(bytes: try Fixtures.bytes(name)) }

    func storedVideos() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.file("videos")).filter { $0.hasSuffix(".mp4") }.sorted()
    }

    @Test func idleRecordingsAreFoundAndFinishedWithNothingLost() async throws {
        let clock = ManualClock()
        let recorder = try await recorder(clock: clock) { $0.limits.idleSeconds = 1 }
        let quiet = try await recorder.create()
        let busy = try await recorder.create()
        for name in Fixtures.hd720Frames { try await quiet.append(try frame(name), clientTimestamp: nil) }
        clock.advance(by: .milliseconds(1300))
        try await busy.append(try frame(Fixtures.hd720Frames[0]), clientTimestamp: nil)
        #expect(await recorder.idleRecordings() == [quiet.id])
        let result = try await recorder.finish(quiet.id, reason: "idle")
        #expect(result.summary.frames == 3)
        #expect(try storedVideos().count == 1)
        #expect(try await Probe(scratch.file("videos/\(result.video.name)")).frames == 3)
    }

    @Test func aCrashedRecordingIsRecoveredFromTheSpoolAtStart() async throws {
        // What a killed server leaves: a fragmented spool, never finished, its last fragment torn.
        let spool = scratch.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let live = scratch.file("live.mp4")
        let encoder = try VideoEncoder(path: live, settings: EncoderSettings(preset: "ultrafast", threads: 1))
        let decoder = FrameDecoder()
        let pictures = try Fixtures.hd720Frames.map { try decoder.decode(try Fixtures.bytes($0)) }
        for index in 0..<81 { try encoder.encode(pictures[index % 3]) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: live))
        try bytes.dropLast(100).write(to: URL(fileURLWithPath: spool + "/crashed-id.spool.mp4"))
        // And a recording remuxed but never stored, its sidecar not yet written (a crash in between).
        try FileManager.default.createDirectory(atPath: spool + "/pending", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try storedSample(), toPath: spool + "/pending/stored-late.mp4")

        let recorder = try await recorder()
        await recorder.recoverSpool()
        #expect(try await recorder.pendingCount() == 2)
        await recorder.retryPending()
        #expect(try await recorder.pendingCount() == 0)
        let videos = try storedVideos()
        #expect(videos.count == 2)
        var frames: [Int] = []
        for video in videos { frames.append(try await Probe(scratch.file("videos/\(video)")).frames) }
        frames.sort()
        #expect(frames[0] == 3)
        #expect(frames[1] >= 40, "recovered \(frames[1]) of 81 frames")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == ["pending"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool + "/pending").isEmpty)
        withExtendedLifetime(encoder) {}
    }

    @Test func stoppingFinishesAndStoresEveryRecording() async throws {
        let recorder = try await recorder()
        for _ in 0..<2 {
            let session = try await recorder.create()
            for name in Fixtures.hd720Frames { try await session.append(try frame(name), clientTimestamp: nil) }
        }
        _ = try await recorder.create()  // no frames: nothing to store
        await recorder.finishAll(reason: "shutdown")
        #expect(await recorder.activeCount == 0)
        #expect(try storedVideos().count == 2)
    }

    @Test func arrivalTimingUsesTheClientsTimestamps() async throws {
        let recorder = try await recorder { $0.encoder.timing = .timestamps; $0.encoder.fps = 15 }
        let session = try await recorder.create()
        // Ten frames 200 ms apart by the client's clock: 2 s of video, not 10/15 s.
        for index in 0..<10 {
            try await session.append(try frame(Fixtures.hd720Frames[index % 3]), clientTimestamp: 1_700_000_000_000 + Int64(index * 200))
        }
        let result = try await recorder.finish(session.id)
        #expect(abs(result.summary.duration - 2.0) < 0.1)
    }

    /// A small stored-style MP4 made by the media library.
    func storedSample() throws -> String {
        let path = scratch.file("sample.mp4")
        let recording = try Recording(spoolPath: path + ".spool", settings: EncoderSettings(preset: "ultrafast", threads: 1))
        for name in Fixtures.hd720Frames { try recording.append(jpeg: try Fixtures.bytes(name)) }
        _ = try recording.finish(to: path)
        return path
    }
}

/// A clock that moves only when told: idle limits tested without sleeping.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var instant = ContinuousClock.now

    var now: ContinuousClock.Instant { lock.withLock { instant } }

    func advance(by duration: Duration) {
        lock.withLock { instant += duration }
    }
}

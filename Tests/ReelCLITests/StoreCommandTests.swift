import Foundation
import ReelTestSupport
import Testing

/// `reel store` puts existing MP4s where `reel serve` would.
// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct StoreCommandTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    /// A real H.264 MP4 of three frames.
    private func clip() throws -> (path: String, bytes: Data) {
        let path = scratch.file("clip.mp4")
        _ = try record(["frame-1280x720-420-1.jpg", "frame-1280x720-420-2.jpg", "frame-1280x720-420-3.jpg"], to: path)
        return (path, try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func storesInSupabaseWhenConfiguredAndPrintsThePlayableURL() async throws {
        let standIn = try SupabaseStandIn()
        let (file, bytes) = try clip()
        let result = try await run(TranscodeCommandTests.reel, [
            "store", file, "--name", "clip-1.mp4", "--supabase-url", standIn.url,
            "--supabase-key", standIn.key, "--bucket-name", "videos",
        ])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.text.contains("\(standIn.url)/storage/v1/object/public/videos/clip-1.mp4"), "\(result.text)")
        #expect(result.text.contains("\(bytes.count) bytes"))
        #expect(try await standIn.object("videos/clip-1.mp4") == bytes)
    }

    @Test func storesOnLocalDiskByDefaultAndNamesMissingSettings() async throws {
        let (file, _) = try clip()
        let local = try await run(TranscodeCommandTests.reel, ["store", file, "--storage-dir", scratch.file("videos")])
        #expect(local.status == 0, "\(local.errors)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: scratch.file("videos"))
        #expect(stored.count == 1 && stored[0].hasPrefix("video-"))

        let partial = try await run(TranscodeCommandTests.reel, ["store", file, "--supabase-url", "http://127.0.0.1:9"])
        #expect(partial.status == 78)
        #expect(partial.errors.contains("--supabase-key (SUPABASE_KEY): is missing"), "\(partial.errors)")
    }

    @Test func refusesWhatIsNotAnH264MP4AndStoresNothing() async throws {
        let (good, _) = try clip()
        let png = TranscodeCommandTests.fixtures + "/not-a-jpeg.png"
        let videos = scratch.file("videos")
        for (files, message) in [
            ([good, png], "error: \(png): not an MP4 file (FFmpeg reads it as png_pipe)"),
            ([scratch.file("nothere.mp4")], "error: \(scratch.file("nothere.mp4")): no such file"),
            ([scratch.path], "error: \(scratch.path): a folder, not an MP4 file"),
        ] {
            let result = try await run(TranscodeCommandTests.reel, ["store"] + files + ["--storage-dir", videos])
            #expect(result.status == 1)
            #expect(result.errors.trimmingCharacters(in: .newlines) == message)
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: videos)) ?? []).isEmpty)
    }
}

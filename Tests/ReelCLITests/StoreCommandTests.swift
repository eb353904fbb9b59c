import Foundation
import ReelTestSupport
import Testing

/// `reel store` puts existing MP4s where `reel serve` would.
// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct StoreCommandTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    @Test func storesInSupabaseWhenConfiguredAndPrintsThePlayableURL() async throws {
        let standIn = try SupabaseStandIn()
        let file = scratch.file("clip.mp4")
        try Data(repeating: 9, count: 70_000).write(to: URL(fileURLWithPath: file))
        let result = try await run(TranscodeCommandTests.reel, [
            "store", file, "--name", "clip-1.mp4", "--supabase-url", standIn.url,
            "--supabase-key", standIn.key, "--bucket-name", "videos",
        ])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.text.contains("\(standIn.url)/storage/v1/object/public/videos/clip-1.mp4"), "\(result.text)")
        #expect(result.text.contains("70000 bytes"))
        #expect(try await standIn.object("videos/clip-1.mp4") == Data(repeating: 9, count: 70_000))
    }

    @Test func storesOnLocalDiskByDefaultAndNamesMissingSettings() async throws {
        let file = scratch.file("clip.mp4")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: file))
        let local = try await run(TranscodeCommandTests.reel, ["store", file, "--storage-dir", scratch.file("videos")])
        #expect(local.status == 0, "\(local.errors)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: scratch.file("videos"))
        #expect(stored.count == 1 && stored[0].hasPrefix("video-"))

        let partial = try await run(TranscodeCommandTests.reel, ["store", file, "--supabase-url", "http://127.0.0.1:9"])
        #expect(partial.status != 0)
        #expect(partial.errors.contains("SUPABASE_KEY"), "\(partial.errors)")
    }
}

import Foundation
import ReelStorage
import ReelTestSupport
import Testing

@Suite struct LocalDiskStorageTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    @Test func storingKeepsTheBytesAndAnswersItsPath() async throws {
        let storage = try LocalDiskStorage(folder: scratch.file("videos"))
        let source = scratch.file("finished.mp4")
        try Data(repeating: 7, count: 12345).write(to: URL(fileURLWithPath: source))
        let stored = try await storage.store(file: source, name: "video-1.mp4")
        #expect(stored.location == .servedLocally(path: "videos/video-1.mp4"))
        #expect(stored.bytes == 12345)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("videos/video-1.mp4"))) == Data(repeating: 7, count: 12345))
        #expect(FileManager.default.fileExists(atPath: source), "the caller deletes its own file")
    }

    @Test func anotherFileUnderAStoredNameOrOutsideTheFolderIsRefused() async throws {
        let storage = try LocalDiskStorage(folder: scratch.file("videos"))
        let source = scratch.file("finished.mp4"), other = scratch.file("other.mp4")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source))
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: other))
        let first = try await storage.store(file: source, name: "video-2.mp4")
        // The same video again (stored before a crash let the server note it) is stored, once.
        #expect(try await storage.store(file: source, name: "video-2.mp4") == first)
        await #expect(throws: StorageError.duplicate("video-2.mp4")) { try await storage.store(file: other, name: "video-2.mp4") }
        await #expect(throws: StorageError.invalidName("../video-3.mp4")) { try await storage.store(file: source, name: "../video-3.mp4") }
        await #expect(throws: StorageError.self) { try await storage.store(file: scratch.file("missing.mp4"), name: "video-4.mp4") }
    }

    @Test func namesAreUniqueEvenWithinOneMillisecond() {
        let namer = VideoNamer()
        let now = Date(timeIntervalSince1970: 1_700_000_000.123)
        let names = (0..<100).map { _ in namer.nextName(now: now) }
        #expect(Set(names).count == 100)
        #expect(names[0] == "video-1700000000123.mp4")
        #expect(names[1] == "video-1700000000124.mp4")
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ReelMedia
import ReelStorage
import ReelTestSupport
import Testing
@testable import ReelServer

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct RecordingListTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    @Test func theListIsNewestFirstInPagesAndEachEntryTellsWhereItStands() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let first = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0], id: first)
            try await client.execute(uri: "/video/finish_video?id=\(first)", method: .get) { #expect($0.status == .ok) }
            let second = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[1], id: second)
            let third = try await client.createRecording()
            for name in Fixtures.hd720Frames { try await client.upload(name, id: third) }
            try await client.execute(uri: "/video/finish_video?id=\(third)", method: .get) { #expect($0.status == .ok) }

            let page = try await client.execute(uri: "/video/recordings?limit=2", method: .get) { json($0) }
            let entries = try #require(page["recordings"] as? [[String: Any]])
            #expect(entries.map { $0["id"] as? String } == [third, second])
            #expect(page["total"] as? Int == 3)
            #expect(page["next"] as? String == second)

            let stored = entries[0]
            #expect(stored["state"] as? String == "stored")
            #expect(stored["frames"] as? Int == 3)
            #expect(abs((stored["duration"] as? Double ?? 0) - 3.0 / 27) < 0.002)
            #expect((stored["bytes"] as? Int ?? 0) > 1000)
            #expect((stored["video url"] as? String)?.contains("/videos/video-") == true)
            #expect((stored["thumbnail url"] as? String)?.hasSuffix("/video/recordings/\(third)/thumbnail.jpg") == true)
            let created = try #require(stored["created"] as? String)
            let date = try #require(Timestamp.date(created))
            #expect(abs(date.timeIntervalSinceNow) < 60)

            let recording = entries[1]
            #expect(recording["state"] as? String == "recording")
            #expect(recording["frames"] as? Int == 1)
            #expect(recording["video url"] == nil && recording["thumbnail url"] == nil)

            let rest = try await client.execute(uri: "/video/recordings?limit=2&before=\(second)", method: .get) { json($0) }
            #expect((rest["recordings"] as? [[String: Any]])?.map { $0["id"] as? String } == [first])
            #expect(rest["next"] is NSNull)

            for query in ["limit=0", "limit=501", "limit=ten", "before=no-such-id"] {
                try await client.execute(uri: "/video/recordings?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(!message(response).isEmpty)
                }
            }
        }
    }

    @Test func theThumbnailIsASmallJPEGServedOnceTheRecordingIsFinished() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            try await client.upload("webcam-640x480-422.jpg", id: id)
            try await client.execute(uri: "/video/recordings/\(id)/thumbnail.jpg", method: .get) { response in
                #expect(response.status == .notFound, "not before finish")
            }
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/video/recordings/\(id)/thumbnail.jpg", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
                let jpeg = [UInt8](buffer: response.body)
                let info = try jpeg.withUnsafeBytes { try FrameDecoder().inspect($0) }
                #expect(info.size == FrameSize(width: 320, height: 180))
            }
            try await client.execute(uri: "/video/recordings/no-such-id/thumbnail.jpg", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(message(response).contains("no thumbnail"))
            }
        }
    }

    @Test func metricsCountFramesByWhatBecameOfThem() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            for name in Fixtures.hd720Frames + ["not-a-jpeg.png", "corrupt-scan.jpg"] {
                try await client.upload(name, id: id)
            }
            try await client.upload(Fixtures.hd720Frames[0], id: "no-such-recording")
            let stored = try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { json($0) }

            let metrics = try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                return prometheusSamples(String(buffer: response.body))
            }
            #expect(metrics["reel_frames_received_total"] == 6)
            #expect(metrics["reel_frames_encoded_total"] == 3)
            #expect(metrics["reel_frame_encode_seconds_count"] == 3)
            #expect(metrics[#"reel_frames_refused_total{reason="not_jpeg"}"#] == 1)
            #expect(metrics[#"reel_frames_refused_total{reason="corrupt_jpeg"}"#] == 1)
            #expect(metrics[#"reel_frames_refused_total{reason="unknown_recording"}"#] == 1)
            #expect(metrics[#"reel_frames_refused_total{reason="too_large"}"#] == 0, "every reason is there from the start")
            #expect(metrics[#"reel_uploads_total{result="succeeded"}"#] == 1)
            #expect(metrics[#"reel_uploads_total{result="failed"}"#] == 0)
            #expect(metrics["reel_stored_bytes_total"] == Double(stored["bytes"] as? Int ?? -1))
            #expect(metrics["reel_finish_seconds_count"] == 1)
            #expect(metrics["reel_recordings_active"] == 0)
            #expect(metrics["reel_uploads_pending"] == 0)
            #expect(metrics["reel_encoder_backpressure_waits_total"] != nil)
        }
    }

    @Test func thePageIsOpenButTheListAndMetricsNeedTheToken() async throws {
        let app = try await testApplication(testSettings(scratch) { $0.token = "list-secret" })
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("/assets/app.js"))
            }
            for (file, type) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
                try await client.execute(uri: "/assets/\(file)", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true)
                    #expect(response.body.readableBytes > 1000)
                }
            }
            try await client.execute(uri: "/assets/missing.js", method: .get) { #expect($0.status == .notFound) }
            for uri in ["/metrics", "/video/recordings", "/video/recordings/some-id/thumbnail.jpg"] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .unauthorized, "\(uri)") }
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer list-secret"]) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/video/recordings?token=list-secret", method: .get) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func theListSurvivesARestartAndACrashedRecordingKeepsItsPlace() async throws {
        let settings = testSettings(scratch)
        let logger = Logger(label: "reel-test")
        let storage = try LocalDiskStorage(folder: settings.storageDirectory)
        // The first server, gone without finishing two recordings: their entries stay as
        // saved, and the spool holds what was encoded (closed here as the process ends).
        func firstServer() async throws -> (finished: String, crashed: String, empty: String, crashedCreated: Date) {
            let before = try await Recorder(settings: settings, storage: storage, logger: logger)
            let finished = try await before.create()
            try await finished.append(ByteBuffer(bytes: try Fixtures.bytes(Fixtures.hd720Frames[0])), clientTimestamp: nil)
            _ = try await before.finish(finished.id)
            let crashed = try await before.create()
            for index in 0..<54 {
                try await crashed.append(ByteBuffer(bytes: try Fixtures.bytes(Fixtures.hd720Frames[index % 3])), clientTimestamp: nil)
            }
            let empty = try await before.create()  // no frame: leaves nothing worth listing
            let created = try #require(try await before.entry(crashed.id)).created
            return (finished.id, crashed.id, empty.id, created)
        }
        let (finished, crashed, empty, crashedCreated) = try await firstServer()
        try "{ not json".write(toFile: settings.recordingsDirectory + "/garbage.json", atomically: true, encoding: .utf8)

        let after = try await Recorder(settings: settings, storage: storage, logger: logger)
        #expect(try await after.list(limit: 10).entries.map(\.id) == [empty, crashed, finished])
        await after.recoverSpool()
        await after.retryPending()
        let page = try await after.list(limit: 10)
        #expect(page.entries.map(\.id) == [crashed, finished])
        #expect(page.entries.map(\.state) == [.stored, .stored])
        #expect(page.entries[0].created == crashedCreated)
        #expect(page.entries[0].frames == 54)
        #expect(page.entries[1].frames == 1 && page.entries[1].hasThumbnail)
        #expect(page.entries[0].hasThumbnail, "made from the recovered video")
        #expect(try await after.thumbnail(finished) != nil)
        #expect(try await after.entry(empty) == nil)
    }

    @Test func aVideoStoredBeforeTheServerCouldNoteItIsNotStoredTwiceNorLeftPending() async throws {
        let settings = testSettings(scratch)
        // Storage that keeps the video and then fails (a lost answer, a failed signing, a crash).
        let storage = try StoresThenFailsOnce(LocalDiskStorage(folder: settings.storageDirectory))
        let recorder = try await Recorder(settings: settings, storage: storage, logger: Logger(label: "reel-test"))
        let session = try await recorder.create()
        try await session.append(ByteBuffer(bytes: try Fixtures.bytes(Fixtures.hd720Frames[0])), clientTimestamp: nil)
        await #expect(throws: RecordingError.self) { _ = try await recorder.finish(session.id) }
        #expect(try await recorder.entry(session.id)?.state == .pending)
        await recorder.retryPending(now: .distantFuture)
        let entry = try #require(try await recorder.entry(session.id))
        #expect(entry.state == .stored && entry.attempts == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: settings.storageDirectory).count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("spool/pending")).isEmpty)
    }

    @Test func aPendingUploadFromBeforeTheCatalogKeepsItsObjectName() async throws {
        let settings = testSettings(scratch)
        let pending = scratch.file("spool/pending")
        try FileManager.default.createDirectory(atPath: pending, withIntermediateDirectories: true)
        let recording = try Recording(spoolPath: scratch.file("old.spool"), settings: EncoderSettings(preset: "ultrafast", threads: 1))
        try recording.append(jpeg: try Fixtures.bytes(Fixtures.hd720Frames[0]))
        _ = try recording.finish(to: pending + "/old-id.mp4")
        try #"{"id": "old-id", "name": "video-1700000000000.mp4", "frames": 1, "duration": 0.037, "bytes": 1, "attempts": 3}"#
            .write(toFile: pending + "/old-id.json", atomically: true, encoding: .utf8)

        let recorder = try await Recorder(settings: settings, storage: try LocalDiskStorage(folder: settings.storageDirectory),
                                    logger: Logger(label: "reel-test"))
        await recorder.recoverSpool()
        await recorder.retryPending()
        #expect(try await recorder.entry("old-id")?.state == .stored)
        #expect(FileManager.default.fileExists(atPath: scratch.file("videos/video-1700000000000.mp4")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: pending).isEmpty, "the sidecar is gone too")
    }

    @Test func behindAProxyTheURLsUseTheForwardedSchemeAndHost() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0], id: id)
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { #expect($0.status == .ok) }
            let proxied: HTTPFields = [HTTPField.Name("X-Forwarded-Proto")!: "https",
                                       HTTPField.Name("X-Forwarded-Host")!: "cams.example.com"]
            let entry = try await client.execute(uri: "/video/recordings/\(id)", method: .get, headers: proxied) { json($0) }
            #expect((entry["video url"] as? String)?.hasPrefix("https://cams.example.com/videos/video-") == true)
            #expect(entry["thumbnail url"] as? String == "https://cams.example.com/video/recordings/\(id)/thumbnail.jpg")
        }
    }
}

/// Stores through the real local storage, then reports a failure the first time.
final class StoresThenFailsOnce: VideoStorage, @unchecked Sendable {
    let inner: LocalDiskStorage
    private let lock = NSLock()
    private var failed = false

    init(_ inner: LocalDiskStorage) throws { self.inner = inner }

    func store(file: String, name: String) async throws -> StoredVideo {
        let video = try await inner.store(file: file, name: name)
        if lock.withLock({ defer { failed = true }; return !failed }) { throw StorageError.unavailable("answer lost") }
        return video
    }

    func playableLocation(of name: String) async throws -> (location: StoredLocation, expires: Date?) {
        try await inner.playableLocation(of: name)
    }

    func delete(name: String) async throws { try await inner.delete(name: name) }
}

/// Prometheus text as `name{labels}` → value, comments left out.
func prometheusSamples(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        samples[String(line[..<space])] = value
    }
    return samples
}

@Suite struct CatalogTimestampTests {
    @Test func timestampsKeepWholeMillisecondsAndComeBackExactly() throws {
        for seconds in [0.0, 1_795_620_452.8019, 1_795_620_452.9996, 1_700_000_000.123] {
            let text = Timestamp.text(Date(timeIntervalSince1970: seconds))
            let date = try #require(Timestamp.date(text))
            #expect(Timestamp.text(date) == text)
            #expect(Timestamp.date(Timestamp.text(date)) == date)
            #expect(abs(date.timeIntervalSince1970 - seconds) <= 0.0005 + 1e-9)
        }
        #expect(Timestamp.text(Date(timeIntervalSince1970: 1_700_000_000.123)) == "2023-11-14T22:13:20.123Z")
        #expect(Timestamp.date("2023-11-14T22:13:20Z") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(Timestamp.date("yesterday") == nil)
    }
}

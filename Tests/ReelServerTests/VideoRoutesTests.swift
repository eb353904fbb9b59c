import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReelTestSupport
import Testing
@testable import ReelServer

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct VideoRoutesTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    @Test func aRecordingFromCreateToFinishPlays() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            for name in Fixtures.hd720Frames {
                let response = try await client.upload(name, id: id)
                #expect(response.status == .ok)
                #expect(json(response)["status"] as? String == "success")
            }
            // A raw JPEG body is a frame too.
            let raw = try await client.execute(uri: "/video/video_upload", method: .post,
                                               headers: [.contentType: "image/jpeg", VideoController<BasicRequestContext>.sessionHeader: id],
                                               body: ByteBuffer(bytes: try Fixtures.bytes("webcam-640x480-422.jpg"))) { $0 }
            #expect(raw.status == .ok)
            #expect(json(raw)["frames"] as? Int == 4)

            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { response in
                #expect(response.status == .ok)
                let answer = json(response)
                #expect(answer["status"] as? String == "success")
                #expect(answer["id"] as? String == id)
                #expect(answer["frames"] as? Int == 4)
                #expect(abs((answer["duration"] as? Double ?? 0) - 4.0 / 27) < 0.002)
                let url = try #require(answer["video url"] as? String)
                #expect(url.hasPrefix("http://") && url.contains("/videos/video-") && url.hasSuffix(".mp4"))
                let name = String(url.split(separator: "/").last!)
                let stored = scratch.file("videos/\(name)")
                let probe = try await Probe(stored)
                #expect(probe.frames == 4 && probe.codec == "h264" && probe.isFaststart)
                #expect(answer["bytes"] as? Int == (try FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int))
            }
            // Nothing is left in the spool once a recording is stored.
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("spool")) == ["pending"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("spool/pending")).isEmpty)
            try await client.execute(uri: "/video/recordings/\(id)", method: .get) { response in
                #expect(json(response)["state"] as? String == "stored")
                #expect((json(response)["video url"] as? String)?.contains("/videos/video-") == true)
            }
        }
    }

    @Test func aRecordingCanAskForArrivalTimingForItself() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.execute(uri: "/video/create_video?timing=arrival", method: .get) { json($0)["id"] as? String }
            // Four frames taken 250 ms apart: 1 s of video, where constant timing would give 4/27 s.
            for index in 0..<4 {
                let response = try await client.upload(Fixtures.hd720Frames[index % 3], id: id,
                    headers: [VideoController<BasicRequestContext>.timestampHeader: String(5000 + index * 250)])
                #expect(response.status == .ok)
            }
            let answer = try await client.execute(uri: "/video/finish_video?id=\(id ?? "")", method: .get) { json($0) }
            #expect(abs((answer["duration"] as? Double ?? 0) - 1.0) < 0.01, "\(answer)")
            // The server's own timing stays for the others.
            let other = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0], id: other,
                                    headers: [VideoController<BasicRequestContext>.timestampHeader: "9000"])
            try await client.upload(Fixtures.hd720Frames[1], id: other,
                                    headers: [VideoController<BasicRequestContext>.timestampHeader: "19000"])
            let constant = try await client.execute(uri: "/video/finish_video?id=\(other)", method: .get) { json($0) }
            #expect(abs((constant["duration"] as? Double ?? 0) - 2.0 / 27) < 0.002)
            try await client.execute(uri: "/video/create_video?timing=sometimes", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(message(response) == "timing must be constant or arrival")
            }
        }
    }

    @Test func withoutAnIdFramesGoToTheMostRecentRecording() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let first = try await client.createRecording()
            let second = try await client.createRecording()
            let response = try await client.upload(Fixtures.hd720Frames[0])
            #expect(json(response)["id"] as? String == second)
            try await client.upload(Fixtures.hd720Frames[1], id: first)
            try await client.execute(uri: "/video/finish_video", method: .get) { response in
                #expect(json(response)["id"] as? String == second)
            }
            // The older one is now the most recent in progress.
            try await client.execute(uri: "/video/finish_video", method: .get) { response in
                #expect(json(response)["id"] as? String == first)
                #expect(json(response)["frames"] as? Int == 1)
            }
        }
    }

    @Test func theAnswerURLUsesThePublicURLWhenSet() async throws {
        let app = try await testApplication(testSettings(scratch) { $0.publicURL = "https://reel.example.org/base" })
        try await app.test(.router) { client in
            _ = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0])
            try await client.execute(uri: "/video/finish_video", method: .get) { response in
                let url = json(response)["video url"] as? String ?? ""
                #expect(url.hasPrefix("https://reel.example.org/base/videos/video-"))
            }
        }
    }

    static let badFrames: [(String, HTTPResponse.Status, String)] = [
        ("not-a-jpeg.png", .unsupportedMediaType, "not a JPEG"),
        ("truncated.jpg", .unprocessableContent, "corrupt JPEG"),
        ("corrupt-scan.jpg", .unprocessableContent, "corrupt JPEG"),
        ("cmyk-320x240.jpg", .unsupportedMediaType, "CMYK"),
        ("empty.jpg", .badRequest, "empty"),
    ]

    @Test(arguments: badFrames)
    func aBadFrameGetsAJSONErrorAndTheRecordingGoesOn(name: String, status: HTTPResponse.Status, message: String) async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0], id: id)
            let refused = try await client.upload(name, id: id)
            #expect(refused.status == status)
            let answer = json(refused)
            #expect(answer["status"] as? String == "error")
            #expect((answer["message"] as? String ?? "").contains(message), "\(answer)")
            let next = try await client.upload(Fixtures.hd720Frames[1], id: id)
            #expect(json(next)["frames"] as? Int == 2)
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { response in
                #expect(json(response)["frames"] as? Int == 2)
            }
        }
    }

    @Test func aFormWithoutTheImageFieldIsRefused() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            _ = try await client.createRecording()
            let (headers, body) = multipartFrame(try Fixtures.bytes(Fixtures.hd720Frames[0]), field: "picture")
            try await client.execute(uri: "/video/video_upload", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .badRequest)
                #expect(message(response).contains("no file field \"image\""))
            }
            let broken = "multipart/form-data"
            try await client.execute(uri: "/video/video_upload", method: .post, headers: [.contentType: broken],
                                     body: ByteBuffer(string: "x")) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func framesOverTheByteOrSizeLimitAreRefused() async throws {
        let app = try await testApplication(testSettings(scratch) {
            $0.limits.maxFrameBytes = 120_000
            $0.limits.maxFrameSize = .init(width: 1280, height: 720)
        })
        try await app.test(.router) { client in
            _ = try await client.createRecording()
            let big = try await client.upload("full-1920x1080-420.jpg")  // 203 KB
            #expect(big.status == .contentTooLarge)
            #expect(message(big).contains("120000 bytes"))
            let wide = try await client.upload("frame-1280x720-444.jpg")  // 139 KB, over the byte limit too
            #expect(wide.status == .contentTooLarge)
            let small = try await client.upload("odd-641x479.jpg")
            #expect(small.status == .ok)
        }
        let sized = try await testApplication(testSettings(scratch) { $0.limits.maxFrameSize = .init(width: 640, height: 480) })
        try await sized.test(.router) { client in
            _ = try await client.createRecording()
            let large = try await client.upload(Fixtures.hd720Frames[0])
            #expect(large.status == .contentTooLarge)
            #expect(message(large).contains("1280x720"))
        }
    }

    @Test func unknownOrMissingRecordingsAreNamed() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let none = try await client.upload(Fixtures.hd720Frames[0])
            #expect(none.status == .notFound)
            #expect(message(none).contains("create_video"))
            try await client.execute(uri: "/video/finish_video", method: .get) { response in
                #expect(response.status == .notFound)
            }
            let unknown = try await client.upload(Fixtures.hd720Frames[0], id: "no-such-id")
            #expect(unknown.status == .notFound)
            #expect(message(unknown).contains("no-such-id"))
        }
    }

    @Test func finishingTwiceOrWithoutFramesIsAConflict() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            try await client.upload(Fixtures.hd720Frames[0], id: id)
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { response in
                #expect(response.status == .conflict)
                #expect(message(response).contains("already finished"))
            }
            let late = try await client.upload(Fixtures.hd720Frames[0], id: id)
            #expect(late.status == .conflict)

            let empty = try await client.createRecording()
            try await client.execute(uri: "/video/finish_video?id=\(empty)", method: .get) { response in
                #expect(response.status == .conflict)
                #expect(message(response).contains("no frames"))
            }
        }
    }

    @Test func recordingAndFrameLimitsAreEnforced() async throws {
        let app = try await testApplication(testSettings(scratch) {
            $0.limits.maxRecordings = 2
            $0.limits.maxFramesPerRecording = 2
        })
        try await app.test(.router) { client in
            let id = try await client.createRecording()
            _ = try await client.createRecording()
            try await client.execute(uri: "/video/create_video", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                #expect(json(response)["status"] as? String == "error")
            }
            try await client.upload(Fixtures.hd720Frames[0], id: id)
            try await client.upload(Fixtures.hd720Frames[1], id: id)
            let third = try await client.upload(Fixtures.hd720Frames[2], id: id)
            #expect(third.status == .conflict)
            #expect(message(third).contains("limit of 2 frames"))
            try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { response in
                #expect(json(response)["frames"] as? Int == 2)
            }
            // A finished recording frees its place.
            _ = try await client.createRecording()
        }
    }

    @Test func theTokenProtectsEverythingButHealthAndPreflight() async throws {
        let app = try await testApplication(testSettings(scratch) { $0.token = "s3cret" })
        try await app.test(.router) { client in
            try await client.execute(uri: "/video/create_video", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(json(response)["status"] as? String == "error")
            }
            try await client.execute(uri: "/video/create_video", method: .get, headers: [.authorization: "Bearer wrong"]) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/videos/video-1.mp4", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/video/video_upload", method: .options,
                                     headers: [.origin: "http://page.example", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "*")
            }
            let id = try await client.createRecording(headers: [.authorization: "Bearer s3cret"])
            let frame = try await client.upload(Fixtures.hd720Frames[0], id: id, headers: [.authorization: "Bearer s3cret"])
            #expect(frame.status == .ok)
            try await client.execute(uri: "/video/finish_video?id=\(id)&token=s3cret", method: .get) { #expect($0.status == .ok, "\(message($0))") }
        }
    }

    @Test func answersCarryOpenCORSHeaders() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            try await client.execute(uri: "/video/create_video", method: .get, headers: [.origin: "http://page.example"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "*")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            }
        }
    }
}

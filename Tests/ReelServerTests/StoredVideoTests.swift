import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReelTestSupport
import Testing
@testable import ReelServer

@Suite struct ByteRangeTests {
    @Test func rangesAreReadAsTheRFCSays() {
        #expect(ByteRange.parse(nil, size: 1000) == .whole)
        #expect(ByteRange.parse("bytes=0-99", size: 1000) == .part(0...99))
        #expect(ByteRange.parse("bytes=900-", size: 1000) == .part(900...999))
        #expect(ByteRange.parse("bytes=-100", size: 1000) == .part(900...999))
        #expect(ByteRange.parse("bytes=-5000", size: 1000) == .part(0...999))
        #expect(ByteRange.parse("bytes=500-5000", size: 1000) == .part(500...999))
        #expect(ByteRange.parse("bytes=1000-", size: 1000) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=-0", size: 1000) == .unsatisfiable)
        // What cannot be read, or needs a multipart answer, gets the whole file.
        #expect(ByteRange.parse("bytes=5-2", size: 1000) == .whole)
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 1000) == .whole)
        #expect(ByteRange.parse("items=0-1", size: 1000) == .whole)
    }
}

// Each test runs servers or processes: a hang becomes a named failure.
@Suite(.timeLimit(.minutes(3))) struct StoredVideoTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    /// Records three frames and returns the stored video's path under the server.
    func recordOne(_ client: some TestClientProtocol) async throws -> String {
        let id = try await client.createRecording()
        for name in Fixtures.hd720Frames { try await client.upload(name, id: id) }
        return try await client.execute(uri: "/video/finish_video?id=\(id)", method: .get) { response in
            let url = json(response)["video url"] as? String ?? ""
            return "/videos/" + (url.split(separator: "/").last.map(String.init) ?? "")
        }
    }

    @Test func storedVideosPlayAndSeekFromTheServer() async throws {
        let app = try await testApplication(testSettings(scratch))
        try await app.test(.router) { client in
            let path = try await recordOne(client)
            let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.file("videos") + path.dropFirst("/videos".count))))

            let whole = try await client.execute(uri: path, method: .get) { $0 }
            #expect(whole.status == .ok)
            #expect(whole.headers[.contentType] == "video/mp4")
            #expect(whole.headers[.acceptRanges] == "bytes")
            #expect(Array(buffer: whole.body) == file)
            let eTag = try #require(whole.headers[.eTag])
            #expect(whole.headers[.lastModified]?.hasSuffix("GMT") == true)

            try await client.execute(uri: path, method: .get, headers: [.range: "bytes=100-199"]) { response in
                #expect(response.status == .partialContent)
                #expect(response.headers[.contentRange] == "bytes 100-199/\(file.count)")
                #expect(Array(buffer: response.body) == Array(file[100...199]))
            }
            try await client.execute(uri: path, method: .get, headers: [.range: "bytes=-64"]) { response in
                #expect(response.status == .partialContent)
                #expect(Array(buffer: response.body) == Array(file.suffix(64)))
            }
            try await client.execute(uri: path, method: .get, headers: [.range: "bytes=\(file.count)-"]) { response in
                #expect(response.status == .rangeNotSatisfiable)
                #expect(response.headers[.contentRange] == "bytes */\(file.count)")
            }
            try await client.execute(uri: path, method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentLength] == String(file.count))
                #expect(response.body.readableBytes == 0)
            }
            try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: eTag]) { response in
                #expect(response.status == .notModified)
            }
            try await client.execute(uri: path, method: .get, headers: [.range: "bytes=0-9", .ifRange: "\"stale\""]) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == file.count)
            }
            try await client.execute(uri: "/videos/missing.mp4", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(json(response)["status"] as? String == "error")
            }
            try await client.execute(uri: "/videos/..%2Fspool", method: .get) { #expect($0.status == .notFound) }
        }
    }
}

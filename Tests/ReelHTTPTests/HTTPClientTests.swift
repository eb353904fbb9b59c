import Foundation
import Hummingbird
import Logging
import ReelHTTP
import ReelTestSupport
import Testing

/// The libcurl client against a real HTTP server on loopback.
@Suite(.timeLimit(.minutes(2))) struct HTTPClientTests {
    /// Runs the echo server on 127.0.0.1 and an OS-chosen port (read back once
    /// it listens) for the length of `body`. Not HummingbirdTesting's `.live`,
    /// which listens on "localhost": that name may resolve to ::1 first, or not at all.
    func withEchoServer(_ body: (Int) async throws -> Void) async throws {
        let (ports, listening) = AsyncStream<Int>.makeStream()
        // Quiet: stopping by cancellation is how every test ends.
        var logger = Logger(label: "echo")
        logger.logLevel = .critical
        let app = Application(router: echoRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  listening.yield(channel.localAddress?.port ?? 0)
                                  listening.finish()
                              }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try #require(port > 0)
            try await body(port)
        }
    }

    /// Echoes what it gets: method, a header, and the body.
    func echoRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.on("echo", method: .post) { request, _ in try await echo(request) }
        router.on("echo", method: .patch) { request, _ in try await echo(request) }
        router.on("echo", method: .put) { request, _ in try await echo(request) }
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        router.head("echo") { _, _ in Response(status: .ok, headers: [.init("Upload-Offset")!: "42"]) }
        return router
    }

    @Sendable func echo(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        return Response(status: .created, headers: [
            .init("X-Method")!: request.method.rawValue,
            .init("X-Got-Type")!: request.headers[.contentType] ?? "",
            .init("X-Got-Length")!: request.headers[.contentLength] ?? "",
        ], body: .init(byteBuffer: body))
    }

    @Test func bodiesGoOutWholeAndAnswersComeBack() async throws {
        try await withEchoServer { port in
            let base = "http://127.0.0.1:\(port)"
            let client = HTTPClient()
            let bytes = (0..<300_000).map { UInt8($0 % 251) }
            let answer = try await client.send(.init(method: "POST", url: "\(base)/echo",
                                                     headers: [.init("Content-Type", "video/mp4")], body: .bytes(bytes)))
            #expect(answer.status == 201)
            #expect(answer.header("x-method") == "POST")
            #expect(answer.header("X-Got-Type") == "video/mp4")
            #expect(answer.header("x-got-length") == "300000")
            #expect(answer.body == bytes)

            // A slice of a file, as a resumable upload sends its chunks.
            let scratch = try ScratchFolder()
            let file = scratch.file("data.bin")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let slice = try await client.send(.init(method: "PATCH", url: "\(base)/echo",
                                                    body: .file(path: file, offset: 1000, length: 70_000)))
            #expect(slice.header("x-method") == "PATCH")
            #expect(slice.body == Array(bytes[1000..<71_000]))

            let head = try await client.send(.init(method: "HEAD", url: "\(base)/echo"))
            #expect(head.status == 200 && head.header("upload-offset") == "42" && head.body.isEmpty)

            let missing = try await client.send(.init(method: "GET", url: "\(base)/nothing-here"))
            #expect(missing.status == 404)
        }
    }

    @Test func transportFailuresAreErrorsWithLibcurlsMessage() async throws {
        let client = HTTPClient()
        // A port nothing listens on: find one by binding and closing.
        do {
            _ = try await client.send(.init(method: "GET", url: "http://127.0.0.1:9/", timeout: .seconds(2)))
            Issue.record("connected to the discard port")
        } catch let error as HTTPClient.TransportError {
            #expect(error.message.lowercased().contains("connect"), "\(error)")
        }
        try await withEchoServer { port in
            do {
                _ = try await client.send(.init(method: "GET", url: "http://127.0.0.1:\(port)/slow",
                                                timeout: .milliseconds(500)))
                Issue.record("the slow answer came in time")
            } catch let error as HTTPClient.TransportError {
                #expect(error.isTimeout, "\(error)")
            }
        }
        do {
            _ = try await client.send(.init(method: "PUT", url: "http://127.0.0.1:1/", body: .file(path: "/no/such/file", offset: 0, length: 10)))
            Issue.record("a missing file was sent")
        } catch let error as HTTPClient.TransportError {
            #expect(error.message.contains("/no/such/file"))
        }
    }
}

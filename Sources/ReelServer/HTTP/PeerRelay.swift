import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import ReelErrors
import ServiceLifecycle

/// Any server sharing the catalog takes any request: one for a recording another server records
/// (its encoder lives there) is passed to that server at its `--advertise-url`, its headers and
/// token with it, and that server's answer is the answer, streamed as it comes (a live view lasts
/// as long as the recording). A request's body (one frame) is read whole first: the other server
/// may answer before reading it, and the body is then this server's to finish reading. One hop at
/// most: a relayed request is marked, and a server that does not record the recording either
/// answers 421 rather than pass it on again.
struct PeerRelay<Context: RequestContext>: RouterMiddleware {
    let here: String
    /// The largest frame a request may carry (`--max-frame-bytes`).
    let frameLimit: Int
    let metrics: ServerMetrics

    /// Marks a relayed request with the server that relayed it.
    static var relayedHeader: HTTPField.Name { HTTPField.Name("X-Reel-Relayed-By")! }
    /// How long a peer that answers nothing is waited for, between two reads.
    static var readTimeout: TimeAmount { .seconds(300) }
    /// How long a peer takes to accept a connection before it is taken as down.
    static var connectTimeout: TimeAmount { .seconds(3) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let RecordingError.recordedElsewhere(id, instance, url, _) where request.headers[Self.relayedHeader] == nil {
            return try await relay(request, recording: id, to: instance, at: url)
        }
    }

    private func relay(_ request: Request, recording id: String, to instance: String, at base: String) async throws -> Response {
        var outgoing = HTTPClientRequest(url: base.trimmingSuffix("/") + request.uri.description)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !hopByHop.contains(field.name) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        // Answers that name URLs (a video's) name them as the client reached this server.
        let host = request.headers[HTTPField.Name("X-Forwarded-Host")!] ?? request.head.authority
        if let host { outgoing.headers.replaceOrAdd(name: "X-Forwarded-Host", value: host) }
        // A request that named no recording ("the most recent") names it now: a newer one may start meanwhile.
        outgoing.headers.replaceOrAdd(name: VideoController<Context>.sessionHeader.rawName, value: id)
        outgoing.headers.replaceOrAdd(name: Self.relayedHeader.rawName, value: here)
        if request.method == .post || request.method == .put {
            outgoing.body = .bytes(try await FrameUpload.body(of: request, limit: frameLimit))
        }
        let answer: HTTPClientResponse
        do {
            answer = try await Self.client.execute(outgoing, deadline: .distantFuture)
        } catch is CancellationError {
            throw CancellationError()  // the client went away
        } catch {
            metrics.relaysUnreachable.increment()
            let advice = request.method == .post ? "its frames are kept by the client and taken when it is back: try again in 2 s"
                                                 : "try again in 2 s"
            throw APIError(.serviceUnavailable,
                           "recording \(id) is recorded by the server \(instance) (\(base)), which cannot be reached: \(Self.failure(error)); \(advice)",
                           retryAfter: 2)
        }
        metrics.relaysAnswered.increment()
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            guard let field = HTTPField.Name(name), !hopByHop.contains(field) || field == .contentLength else { continue }
            headers.append(HTTPField(name: field, value: value))
        }
        let status = HTTPResponse.Status(code: Int(answer.status.code), reasonPhrase: answer.status.reasonPhrase)
        // A HEAD's answer says the length of a body it does not have.
        guard request.method != .head else { return Response(status: status, headers: headers) }
        let length = headers[.contentLength].flatMap(Int.init)
        headers[.contentLength] = nil
        let body = answer.body
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: length) { writer in
            // The answer is read by a task of its own, one piece at a time as the client takes them, so a
            // live view ends when this server stops, as one answered here does (stopping waits for answers).
            let pieces = AsyncThrowingChannel<ByteBuffer, any Error>()
            let reader = Task {
                do {
                    for try await piece in body { await pieces.send(piece) }
                    pieces.finish()
                } catch {
                    pieces.fail(error)
                }
            }
            defer { reader.cancel() }
            try await withGracefulShutdownHandler {
                for try await piece in pieces { try await writer.write(piece) }
            } onGracefulShutdown: {
                pieces.finish()
            }
            try await writer.finish(nil)
        })
    }

    /// One client for every relay of the process, never shut down (a global is never deinitialised).
    private static var client: HTTPClient { peerClient }

    private static func failure(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection within \(connectTimeout.nanoseconds / 1_000_000_000) s"
            case .readTimeout: return "no answer within \(readTimeout.nanoseconds / 1_000_000_000) s"
            case .remoteConnectionClosed: return "it closed the connection"
            case .getConnectionFromPoolTimeout: return "every connection to it is busy"
            default: break
            }
        }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return failure(first.error)
        }
        if let error = error as? IOError { return reason(errno: error.errnoCode) }
        return describe(error)
    }
}

/// Headers of one connection, not of the request: each hop sets its own.
private let hopByHop: Set<HTTPField.Name> = [
    .connection, .contentLength, .transferEncoding, .te, .upgrade, .proxyAuthorization, .trailer,
    HTTPField.Name("Keep-Alive")!, HTTPField.Name("Proxy-Connection")!,
]

private let peerClient = HTTPClient(
    eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
    configuration: HTTPClient.Configuration(
        redirectConfiguration: .disallow,
        timeout: .init(connect: PeerRelay<BasicRequestContext>.connectTimeout, read: PeerRelay<BasicRequestContext>.readTimeout),
        // A live view holds a connection for as long as the recording: never a limit of 8 per server. Idle
        // ones are let go before the other server would close them (--connection-idle-seconds).
        connectionPool: .init(idleTimeout: .seconds(10), concurrentHTTP1ConnectionsPerHostSoftLimit: 10_000),
        decompression: .disabled))

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

import Foundation
import ReelMedia
import ReelHTTP

/// The reel server's create → upload → finish sequence over one keep-alive
/// connection. Blocking: it runs on the capturer's sending thread.
public final class ServerClient: @unchecked Sendable {
    /// The server answered with an error; `message` is its JSON message.
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public var status: Int
        public var message: String
        public var description: String { "the server refused (\(status)): \(message)" }
    }

    /// The server could not be reached at all.
    public struct Unreachable: Error, CustomStringConvertible, Sendable {
        public var url: String
        public var reason: String
        public var description: String {
            "cannot reach the reel server at \(url) (\(reason)); is reel serve running there? (--server)"
        }
    }

    public let base: String
    private let token: String?
    private let retryFor: Duration
    private let client = HTTPClient()

    public init(server: String, token: String? = nil, retryFor: Duration = .seconds(30)) {
        base = String(server.reversed().drop { $0 == "/" }.reversed())
        self.token = token
        self.retryFor = retryFor
    }

    /// Starts a recording under an id chosen here, so a load balancer hashing on it sends its first
    /// request where the rest go.
    public func createRecording() throws -> String {
        let chosen = UUID().uuidString.lowercased()
        let answer: [String: Any]
        do {
            answer = try call("GET", "/video/create_video?id=\(chosen)")
        } catch let refused as Refused where refused.status == 409 {
            // Taken: by this very request, whose answer was lost and which was sent again.
            return chosen
        }
        guard let id = answer["id"] as? String else { throw Refused(status: 200, message: "no id in the answer") }
        return id
    }

    public func upload(_ jpeg: [UInt8], to id: String) throws {
        _ = try call("POST", "/video/video_upload", id: id, body: jpeg)
    }

    /// Finishes the recording; the answer holds "video url", frames, duration.
    public func finish(_ id: String) throws -> [String: Any] {
        try call("GET", "/video/finish_video", id: id)
    }

    /// One request; when the server is away (no connection, 5xx) it is tried
    /// again with growing waits (or as long as `Retry-After` says) for up to
    /// `retryFor`, then the error is thrown.
    private func call(_ method: String, _ path: String, id: String? = nil, body: [UInt8]? = nil) throws -> [String: Any] {
        var headers = [HTTPClient.Header("Accept", "application/json")]
        if let token { headers.append(HTTPClient.Header("Authorization", "Bearer \(token)")) }
        if let id { headers.append(HTTPClient.Header("X-Reel-Session", id)) }
        if body != nil { headers.append(HTTPClient.Header("Content-Type", "image/jpeg")) }
        let request = HTTPClient.Request(method: method, url: base + path, headers: headers,
                                         body: body.map { .bytes($0) } ?? .empty, timeout: .seconds(60))
        let deadline = ContinuousClock.now + retryFor
        var wait = Duration.milliseconds(250)
        while true {
            do {
                let response = try client.perform(request)
                let answer = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
                if (200..<300).contains(response.status) { return answer }
                let refusal = Refused(status: response.status, message: answer["message"] as? String ?? response.text)
                if response.status < 500 { throw refusal }
                // A server with no CPU for another recording says when to ask again.
                if let seconds = response.header("Retry-After").flatMap(Int.init), seconds > 0 {
                    wait = .seconds(seconds)
                }
                if ContinuousClock.now + wait > deadline { throw refusal }
            } catch let error as HTTPClient.TransportError {
                if ContinuousClock.now + wait > deadline { throw Unreachable(url: base + path, reason: error.message) }
            }
            Thread.sleep(forTimeInterval: wait.inSeconds)
            wait = min(wait * 2, .seconds(4))
        }
    }
}

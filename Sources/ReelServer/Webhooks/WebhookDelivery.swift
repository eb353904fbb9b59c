import Crypto
import Foundation
import Logging
import ReelErrors
import ReelHTTP
import ServiceLifecycle

/// Posts the outbox's events to the webhook receiver, one at a time and in
/// order, each until the receiver answers 2xx: a network error or another
/// status waits (1 s, doubling to a minute) and sends the same event again.
/// Delivered at least once; what is left at shutdown goes at the next start.
struct WebhookDelivery: Service {
    let outbox: WebhookOutbox
    let url: String
    /// With a secret, each POST carries `X-Reel-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    let secret: String?
    let metrics: ServerMetrics
    let logger: Logger
    var idlePoll = Duration.milliseconds(200)
    var maxWait = Duration.seconds(60)

    func run() async throws {
        let client = HTTPClient()
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard let (name, body) = outbox.oldest() else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: idlePoll) }
                continue
            }
            do {
                try await send(body, client: client)
                outbox.remove(name)
                metrics.webhooksDelivered.increment()
                failures = 0
            } catch {
                failures += 1
                metrics.webhooksFailed.increment()
                let wait = min(maxWait, .seconds(1) * (1 << min(failures - 1, 6)))
                logger.warning("webhook not delivered; it is sent again", metadata: [
                    "url": "\(Self.shown(url))", "event.file": "\(name)", "attempts": "\(failures)", "error": "\(describe(error))",
                    "wait": "\(wait)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
        }
    }

    private func send(_ body: [UInt8], client: HTTPClient) async throws {
        var headers = [HTTPClient.Header("Content-Type", "application/json"),
                       HTTPClient.Header("User-Agent", "reel/\(reelVersion)")]
        if let secret { headers.append(HTTPClient.Header("X-Reel-Signature", Self.signature(of: body, secret: secret))) }
        let response = try await client.send(HTTPClient.Request(method: "POST", url: url, headers: headers,
                                                                body: .bytes(body), timeout: .seconds(10)))
        guard (200..<300).contains(response.status) else {
            // One line of what the receiver said: an HTML error page must not break the log.
            let said = response.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            throw WebhookRefused(status: response.status, body: String(said.prefix(200)))
        }
    }

    /// The receiver's URL as logs show it: without user, password or query, which often carry a secret.
    static func shown(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "(the webhook URL)" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        return parts.string ?? "(the webhook URL)"
    }

    /// `sha256=` and the hex HMAC-SHA256 of the body under the secret, as GitHub and Stripe sign.
    static func signature(of body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// The receiver answered, but not 2xx.
struct WebhookRefused: Error, CustomStringConvertible {
    let status: Int
    let body: String
    var description: String { "the receiver answered \(status)\(body.isEmpty ? "" : ": \(body)")" }
}

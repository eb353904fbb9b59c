import Crypto
import Foundation
import Logging
import ReelErrors
import ReelHTTP
import ServiceLifecycle

/// Posts the outbox's events to the webhook receiver, one at a time and in
/// order, each until the receiver answers 2xx: a network error or another
/// status waits (1 s, doubling to a minute) and sends the same event again.
/// Delivered at least once; what is left at shutdown goes at the next start,
/// or from another server sharing the catalog: one server at a time holds the
/// delivery (as `holder`, its `--instance-id`), for as long as it renews it.
struct WebhookDelivery: Service {
    let outbox: WebhookOutbox
    let url: String
    /// With a secret, each POST carries `X-Reel-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    let secret: String?
    let holder: String
    let metrics: ServerMetrics
    let logger: Logger
    var idlePoll = Duration.milliseconds(200)
    var maxWait = Duration.seconds(60)
    /// How long a hold on the delivery lasts past what this server means to do next (a send, a
    /// wait): if it stops without letting go, another server takes over after this.
    var holdMargin = 15.0
    /// The longest a send takes.
    static var sendTimeout: Duration { .seconds(10) }

    func run() async throws {
        let client = HTTPClient()
        var failures = 0
        var catalogAway = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let next: (sequence: Int, body: [UInt8])?
            do {
                guard try await outbox.holdDelivery(as: holder, for: Self.sendTimeout.inSeconds + holdMargin) else {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: idlePoll * 5) }
                    continue
                }
                next = try await outbox.oldest()
                if catalogAway { logger.info("webhook events readable again", metadata: ["database": "\(outbox.database.location)"]) }
                catalogAway = false
            } catch {
                if !catalogAway {
                    logger.warning("cannot read the webhook events; they are sent once the catalog answers",
                                   metadata: ["database": "\(outbox.database.location)", "error": "\(CatalogDatabaseError.reason(of: error))"])
                }
                catalogAway = true
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                continue
            }
            guard let (sequence, body) = next else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: idlePoll) }
                continue
            }
            do {
                try await send(body, client: client)
                metrics.webhooksDelivered.increment()
                failures = 0
                // Taken: not sent again. Should the catalog not answer now, it is (at least once).
                try? await outbox.remove(sequence)
            } catch {
                failures += 1
                metrics.webhooksFailed.increment()
                let wait = min(maxWait, .seconds(1) * (1 << min(failures - 1, 6)))
                logger.warning("webhook not delivered; it is sent again", metadata: [
                    "url": "\(Self.shown(url))", "event.sequence": "\(sequence)", "attempts": "\(failures)", "error": "\(describe(error))",
                    "wait": "\(wait)"])
                _ = try? await outbox.holdDelivery(as: holder, for: (wait + Self.sendTimeout).inSeconds + holdMargin)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
        }
        await outbox.releaseDelivery(as: holder)
    }

    private func send(_ body: [UInt8], client: HTTPClient) async throws {
        var headers = [HTTPClient.Header("Content-Type", "application/json"),
                       HTTPClient.Header("User-Agent", "reel/\(reelVersion)")]
        if let secret { headers.append(HTTPClient.Header("X-Reel-Signature", Self.signature(of: body, secret: secret))) }
        let response = try await client.send(HTTPClient.Request(method: "POST", url: url, headers: headers,
                                                                body: .bytes(body), timeout: Self.sendTimeout))
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

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import ReelMedia
import ServiceLifecycle

/// Watching a recording while it records, from its spool (DESIGN §9):
/// `live.mp4`, one response that streams the init segment and then each
/// fragment as it completes (the page feeds it to Media Source Extensions);
/// `live.m3u8`, an HLS playlist of byte ranges for other players; and
/// `spool.mp4`, the spool's complete bytes with `Range`.
struct LiveController<Context: RequestContext> {
    let recorder: Recorder
    let settings: ServerSettings

    /// The most a read from the spool takes at once.
    static var chunkBytes: Int { 512 * 1024 }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("recordings/:id/live.mp4", use: stream)
        group.get("recordings/:id/live.m3u8", use: playlist)
        group.get("recordings/:id/spool.mp4", use: spoolBytes)
        group.head("recordings/:id/spool.mp4", use: spoolBytes)
    }

    /// The init segment, then from the latest keyframe on every fragment as it
    /// completes, until the recording ends (or the server stops).
    @Sendable func stream(_ request: Request, context: Context) async throws -> Response {
        let spool = try await recorder.liveSpool(context.parameters.require("id"))
        let first = spool.index.current
        let start = first.fragments.lastIndex { $0.startsWithKeyframe } ?? 0
        let viewers = recorder.metrics.liveStreams
        let body = ResponseBody { writer in
            viewers.increment()
            defer { viewers.decrement() }
            try await writer.write(read(spool, 0..<first.initLength))
            var sent = start, snapshot = first
            while true {
                if sent < snapshot.fragments.count {
                    let from = snapshot.fragments[sent].offset
                    for chunk in Self.chunks(from..<snapshot.completeLength) { try await writer.write(read(spool, chunk)) }
                    sent = snapshot.fragments.count
                }
                // Stopping: the server waits for responses in progress, and this one would last as long as the recording.
                if snapshot.ended || Task.isShuttingDownGracefully || Task.isCancelled { break }
                snapshot = await spool.index.waitForChange(beyond: sent, timeout: .seconds(1))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "video/mp4", .cacheControl: "no-store"], body: body)
    }

    @Sendable func playlist(_ request: Request, context: Context) async throws -> Response {
        let spool = try await recorder.liveSpool(context.parameters.require("id"))
        // Players resolve the segments' URI against the playlist's and drop its query: the token goes with it.
        var uri = "spool.mp4"
        if let token = request.uri.queryParameters.get("token"),
           let escaped = String(token).addingPercentEncoding(withAllowedCharacters: unreserved) {
            uri += "?token=" + escaped
        }
        recorder.metrics.livePlaylists.increment()
        let playlist = HLSPlaylist(snapshot: spool.index.current, targetDuration: max(1, settings.encoder.keyframeInterval),
                                   uri: uri)
        return Response(status: .ok, headers: [.contentType: "application/vnd.apple.mpegurl", .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: playlist.text)))
    }

    /// The spool's complete bytes (never the fragment being written), with `Range` as a player asks for segments.
    @Sendable func spoolBytes(_ request: Request, context: Context) async throws -> Response {
        let spool = try await recorder.liveSpool(context.parameters.require("id"))
        let size = spool.index.current.completeLength
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes", .cacheControl: "no-cache"]
        let (status, bytes) = ByteRange.parse(request.headers[.range], size: size).answer(size: size, headers: &headers)
        guard request.method != .head, let bytes else { return Response(status: status, headers: headers) }
        let body = ResponseBody { writer in
            for chunk in Self.chunks(bytes.lowerBound..<bytes.upperBound + 1) { try await writer.write(read(spool, chunk)) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Reads off the event loop: the spool's bytes are in the page cache, but a read may still wait for the disk.
    private func read(_ spool: LiveSpool, _ range: Range<Int>) async throws -> ByteBuffer {
        try await NIOThreadPool.singleton.runIfActive { try spool.read(range) }
    }

    private static func chunks(_ range: Range<Int>) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: chunkBytes).map { $0..<min($0 + chunkBytes, range.upperBound) }
    }
}

/// What a URI's query may carry as it is (RFC 3986's unreserved characters).
private let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

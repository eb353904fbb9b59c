import Foundation
import HTTPTypes
import Hummingbird
import ReelMedia
import ReelStorage

/// The routes of the original service, `/video/create_video`, `/video/video_upload`
/// and `/video/finish_video`, with the recording id as an addition.
struct VideoController<Context: RequestContext> {
    let recorder: Recorder
    let settings: ServerSettings

    static var sessionHeader: HTTPField.Name { HTTPField.Name("X-Reel-Session")! }
    static var timestampHeader: HTTPField.Name { HTTPField.Name("X-Reel-Timestamp")! }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("create_video", use: create)
        group.post("video_upload", use: upload)
        group.get("finish_video", use: finish)
        group.get("recordings/:id", use: status)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> JSONAnswer {
        let session = try await recorder.create()
        return .success(["id": .string(session.id)])
    }

    @Sendable func upload(_ request: Request, context: Context) async throws -> JSONAnswer {
        let session = try await recorder.session(recordingID(request))
        let jpeg = try await FrameUpload.jpeg(from: request, limit: settings.limits.maxFrameBytes)
        let timestamp = request.headers[Self.timestampHeader].flatMap { Int64($0) }
        do {
            try await session.append(jpeg, clientTimestamp: timestamp)
        } catch let error as MediaError {
            throw APIError(error)
        }
        return .success(["id": .string(session.id), "frames": .int(session.frames)])
    }

    @Sendable func finish(_ request: Request, context: Context) async throws -> JSONAnswer {
        let result = try await recorder.finish(recordingID(request))
        return .success([
            "video url": .string(url(for: result.video.location, request: request)),
            "id": .string(result.id),
            "frames": .int(result.summary.frames),
            "duration": .double((result.summary.duration * 1000).rounded() / 1000),
            "bytes": .int(result.video.bytes),
        ])
    }

    /// Where one recording stands: recording, finishing, pending upload (with the
    /// last error) or stored (with its URL).
    @Sendable func status(_ request: Request, context: Context) async throws -> JSONAnswer {
        let id = context.parameters.get("id") ?? ""
        guard let status = await recorder.status(of: id) else { throw APIError(.notFound, "no recording with id \(id)") }
        var fields: [String: JSONValue] = ["id": .string(id)]
        switch status {
        case .recording(let frames):
            fields["state"] = .string("recording")
            fields["frames"] = .int(frames)
        case .finishing:
            fields["state"] = .string("finishing")
        case .pending(let pending):
            fields["state"] = .string("pending")
            fields["frames"] = .int(pending.frames)
            fields["duration"] = .double(pending.duration)
            fields["bytes"] = .int(pending.bytes)
            fields["attempts"] = .int(pending.attempts)
            fields["last error"] = .string(pending.lastError ?? "")
            fields["next attempt"] = .string(ISO8601DateFormatter().string(from: pending.nextAttempt))
        case .stored(let result):
            fields["state"] = .string("stored")
            fields["video url"] = .string(url(for: result.video.location, request: request))
            fields["frames"] = .int(result.summary.frames)
            fields["duration"] = .double((result.summary.duration * 1000).rounded() / 1000)
            fields["bytes"] = .int(result.video.bytes)
        }
        return .success(fields)
    }

    /// `?id=` or the `X-Reel-Session` header; nil means the most recent recording.
    private func recordingID(_ request: Request) -> String? {
        let id = request.uri.queryParameters.get("id") ?? request.headers[Self.sessionHeader]
        return id.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func url(for location: StoredLocation, request: Request) -> String {
        switch location {
        case .remote(let url): return url
        case .servedLocally(let path):
            let base = settings.publicURL ?? "http://\(request.head.authority ?? "localhost:\(settings.port)")"
            return "\(base)/\(path)"
        }
    }
}

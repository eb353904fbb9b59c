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

import Foundation
import HTTPTypes
import Hummingbird
import ReelMedia
import ReelStorage

/// The routes of the original service, `/video/create_video`, `/video/video_upload`
/// and `/video/finish_video`, with the recording id as an addition; and the
/// list of recordings behind the web page.
struct VideoController<Context: RequestContext> {
    let recorder: Recorder
    let settings: ServerSettings

    static var sessionHeader: HTTPField.Name { HTTPField.Name("X-Reel-Session")! }
    static var timestampHeader: HTTPField.Name { HTTPField.Name("X-Reel-Timestamp")! }
    static var defaultPageSize: Int { 50 }
    static var maxPageSize: Int { 500 }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get("create_video", use: create)
        group.post("video_upload", use: upload)
        group.get("finish_video", use: finish)
        group.get("recordings", use: list)
        group.get("recordings/:id", use: status)
        group.delete("recordings/:id", use: delete)
        group.get("recordings/:id/thumbnail.jpg", use: thumbnail)
    }

    /// `?timing=arrival` gives this recording's frames the time they were taken
    /// (`X-Reel-Timestamp`) instead of 1/fps each: a sender that drops frames,
    /// as the web page does, still makes a video as long as the recording was.
    /// `?id=<uuid>` chooses the recording's id (409 when it is taken).
    @Sendable func create(_ request: Request, context: Context) async throws -> Answer<RecordingStarted> {
        var timing: EncoderSettings.Timing?
        if let text = request.uri.queryParameters.get("timing") {
            guard let value = EncoderSettings.Timing(rawValue: String(text)) else {
                throw APIError(.badRequest, "timing must be constant or arrival")
            }
            timing = value
        }
        var id: String?
        if let text = request.uri.queryParameters.get("id"), !text.isEmpty {
            guard let uuid = UUID(uuidString: String(text)) else {
                throw APIError(.badRequest, "id must be a UUID, such as 4f0c6e1a-8a53-4c3e-9a51-0d3f3b1f6f9e")
            }
            id = uuid.uuidString.lowercased()
        }
        let session = try await recorder.create(id: id, timing: timing)
        return Answer(RecordingStarted(id: session.id))
    }

    @Sendable func upload(_ request: Request, context: Context) async throws -> Answer<FrameTaken> {
        let metrics = recorder.metrics
        let found: RecordingSession
        do {
            found = try await recorder.session(recordingID(request))
        } catch let error as RecordingError where error.isRecordedElsewhere {
            throw error  // relayed: the server that records it counts the frame
        } catch {
            metrics.framesReceived.increment()
            metrics.framesRefused(RefusalReason(error)).increment()
            throw error
        }
        metrics.framesReceived.increment()
        do {
            let jpeg = try await found.receiving {
                try await FrameUpload.jpeg(from: request, limit: settings.limits.maxFrameBytes)
            }
            let timestamp = request.headers[Self.timestampHeader].flatMap { Int64($0) }
            try await found.append(jpeg, clientTimestamp: timestamp)
            return Answer(FrameTaken(id: found.id, frames: found.frames))
        } catch {
            metrics.framesRefused(RefusalReason(error)).increment()
            await recorder.finishIfFailed(found)
            throw error
        }
    }

    @Sendable func finish(_ request: Request, context: Context) async throws -> Answer<VideoFinished> {
        let result = try await recorder.finish(recordingID(request))
        return Answer(VideoFinished(videoURL: url(for: result.video.location, request: request), id: result.id,
                                    frames: result.summary.frames, duration: milliseconds(result.summary.duration),
                                    bytes: result.video.bytes))
    }

    /// Every recording, newest first, a page at a time: `?limit=` (1–500, 50
    /// by default) and `?before=` the `next` cursor of the page before.
    @Sendable func list(_ request: Request, context: Context) async throws -> Answer<RecordingsPage> {
        let query = request.uri.queryParameters
        var limit = Self.defaultPageSize
        if let text = query.get("limit") {
            guard let value = Int(text), (1...Self.maxPageSize).contains(value) else {
                throw APIError(.badRequest, "limit must be a number from 1 to \(Self.maxPageSize)")
            }
            limit = value
        }
        let before = query.get("before").flatMap { $0.isEmpty ? nil : $0 }
        let page = try await recorder.list(limit: limit, before: before)
        return Answer(RecordingsPage(recordings: page.entries.map { fields(of: $0, request: request) },
                                     total: page.total, next: page.next))
    }

    /// Where one recording stands: recording, finishing, pending upload (with the
    /// last error), stored (with its URL) or failed.
    @Sendable func status(_ request: Request, context: Context) async throws -> Answer<RecordingFields> {
        let id = try context.parameters.require("id")
        guard let entry = try await recorder.entry(id) else { throw RecordingError.unknown(id: id) }
        var fields = fields(of: entry, request: request)
        fields.status = "success"
        return Answer(fields)
    }

    /// Deletes a stored (or failed) recording: its video from storage, its thumbnail and its entry.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Answer<RecordingDeleted> {
        let id = try context.parameters.require("id")
        try await recorder.delete(id, reason: .request)
        return Answer(RecordingDeleted(id: id))
    }

    /// The small JPEG made at finish; it never changes, so browsers may keep it.
    @Sendable func thumbnail(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let jpeg = try await recorder.thumbnail(id) else {
            throw APIError(.notFound, "no thumbnail for recording \(id)")
        }
        return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=86400"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: jpeg)))
    }

    private func fields(of entry: RecordingEntry, request: Request) -> RecordingFields {
        var fields = RecordingFields(id: entry.id, state: entry.state.rawValue,
                                     created: Timestamp.text(entry.created), frames: entry.frames,
                                     duration: milliseconds(entry.duration), bytes: entry.bytes, preset: entry.preset)
        if entry.hasThumbnail {
            fields.thumbnailURL = "\(baseURL(request))/video/recordings/\(entry.id)/thumbnail.jpg"
        }
        if entry.state == .stored, let location = entry.location {
            fields.videoURL = url(for: location, request: request)
        }
        if entry.state == .pending {
            fields.attempts = entry.attempts
            fields.lastError = entry.lastError ?? ""
            fields.nextAttempt = entry.nextAttempt.map(Timestamp.text)
        }
        if entry.state == .failed { fields.lastError = entry.lastError ?? "" }
        // A stored recording whose deletion failed says why.
        if entry.state == .stored, let lastError = entry.lastError { fields.lastError = lastError }
        return fields
    }

    /// Seconds rounded to the millisecond.
    private func milliseconds(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }

    /// `?id=` or the `X-Reel-Session` header; nil means the most recent recording.
    private func recordingID(_ request: Request) -> String? {
        let id = request.uri.queryParameters.get("id") ?? request.headers[Self.sessionHeader]
        return id.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func url(for location: StoredLocation, request: Request) -> String {
        switch location {
        case .remote(let url): return url
        case .servedLocally(let path): return "\(baseURL(request))/\(path)"
        }
    }

    /// `--public-url`, else what a reverse proxy says it received (`X-Forwarded-Proto`,
    /// `X-Forwarded-Host`), else the request's own Host.
    private func baseURL(_ request: Request) -> String {
        if let publicURL = settings.publicURL { return publicURL }
        func forwarded(_ name: String) -> String? {
            request.headers[HTTPField.Name(name)!]?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let scheme = forwarded("X-Forwarded-Proto").flatMap { ["http", "https"].contains($0) ? $0 : nil } ?? "http"
        let host = forwarded("X-Forwarded-Host") ?? request.head.authority ?? "localhost:\(settings.port)"
        return "\(scheme)://\(host)"
    }
}

import Foundation
import Hummingbird

/// A successful JSON answer: a typed body, encoded the one way every answer is
/// (sorted keys, URLs with their slashes as they are).
struct Answer<Body: Encodable & Sendable>: ResponseGenerator {
    var body: Body

    init(_ body: Body) { self.body = body }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try jsonResponse(body, status: .ok)
    }
}

/// Every JSON answer, success or error, encoded one way.
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// `{"status": "success"}`: health and readiness.
struct Success: Encodable, Sendable {
    var status = "success"
}

/// `create_video`'s answer.
struct RecordingStarted: Encodable, Sendable {
    var status = "success"
    var id: String
}

/// `DELETE /video/recordings/{id}`'s answer.
struct RecordingDeleted: Encodable, Sendable {
    var status = "success"
    var id: String
}

/// `video_upload`'s answer: the frames the recording has taken so far.
struct FrameTaken: Encodable, Sendable {
    var status = "success"
    var id: String
    var frames: Int
}

/// `finish_video`'s answer; `"video url"` (with its space) is what the original clients read.
struct VideoFinished: Encodable, Sendable {
    var status = "success"
    var videoURL: String
    var id: String
    var frames: Int
    /// Seconds, to the millisecond.
    var duration: Double
    var bytes: Int

    enum CodingKeys: String, CodingKey {
        case status, id, frames, duration, bytes
        case videoURL = "video url"
    }
}

/// One recording as the list and the status route show it; fields that do not
/// apply to its state are left out.
struct RecordingFields: Encodable, Sendable {
    /// "success" when the recording is the whole answer (the status route), absent in a list.
    var status: String?
    var id: String
    var state: String
    var created: String
    var frames: Int
    var duration: Double
    var bytes: Int
    var preset: String?
    var thumbnailURL: String?
    var videoURL: String?
    var attempts: Int?
    var lastError: String?
    var nextAttempt: String?

    enum CodingKeys: String, CodingKey {
        case status, id, state, created, frames, duration, bytes, preset, attempts
        case thumbnailURL = "thumbnail url"
        case videoURL = "video url"
        case lastError = "last error"
        case nextAttempt = "next attempt"
    }
}

/// A page of the list: `next` is the cursor of the next page, `null` on the last.
struct RecordingsPage: Encodable, Sendable {
    var status = "success"
    var recordings: [RecordingFields]
    var total: Int
    var next: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(recordings, forKey: .recordings)
        try container.encode(total, forKey: .total)
        try container.encode(next, forKey: .next)  // null, not absent: clients page until it is
    }

    enum CodingKeys: String, CodingKey { case status, recordings, total, next }
}

import Foundation
import Hummingbird
import ReelMedia

/// An error answered as the original service's JSON shape:
/// `{"status": "error", "message": …}` plus any extra fields.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var extra: [String: JSONValue] = [:]

    init(_ status: HTTPResponse.Status, _ message: String, extra: [String: JSONValue] = [:]) {
        self.status = status
        self.message = message
        self.extra = extra
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = extra
        fields["status"] = .string("error")
        fields["message"] = .string(message)
        return try JSONAnswer(fields: fields).response(status: status)
    }

    /// The answer a refused frame gets.
    init(_ error: MediaError) {
        switch error {
        case .empty: self.init(.badRequest, "the frame is empty")
        case .notJPEG: self.init(.unsupportedMediaType, "the frame is not a JPEG")
        case .corruptJPEG(let reason): self.init(.unprocessableContent, "the frame is a corrupt JPEG: \(reason)")
        case .unsupportedJPEG(let kind): self.init(.unsupportedMediaType, "the frame is a JPEG reel cannot use: \(kind)")
        case let .tooLarge(width, height, maxWidth, maxHeight):
            self.init(.contentTooLarge, "the frame is \(width)x\(height), larger than the limit \(maxWidth)x\(maxHeight)")
        case .noFrames: self.init(.conflict, "the recording has no frames")
        case .recordingFinished: self.init(.conflict, "the recording is finished; it takes no more frames")
        case .ffmpeg, .jpegEncoding: self.init(.internalServerError, "encoding failed: \(error)")
        }
    }
}

/// A JSON value for answers whose keys are not Swift identifiers (`"video url"`).
enum JSONValue: Encodable, Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let fields): try container.encode(fields)
        case .null: try container.encodeNil()
        }
    }
}

/// A JSON object answer.
struct JSONAnswer: ResponseGenerator {
    var fields: [String: JSONValue]

    func response(status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(fields)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try response(status: .ok)
    }

    static func success(_ fields: [String: JSONValue] = [:]) -> JSONAnswer {
        var fields = fields
        fields["status"] = .string("success")
        return JSONAnswer(fields: fields)
    }
}

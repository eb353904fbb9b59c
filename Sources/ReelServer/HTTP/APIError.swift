import Foundation
import Hummingbird
import ReelMedia

/// An error answered as the original service's JSON shape:
/// `{"status": "error", "message": …}` plus any extra fields.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var extra: [String: JSONValue] = [:]
    /// Set when the rest of the request is not worth reading (a body over the limit).
    var closesConnection = false
    /// Seconds after which asking again may succeed (`Retry-After`).
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ message: String, extra: [String: JSONValue] = [:],
         closesConnection: Bool = false, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.extra = extra
        self.closesConnection = closesConnection
        self.retryAfter = retryAfter
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = extra
        fields["status"] = .string("error")
        fields["message"] = .string(message)
        var response = try jsonResponse(fields, status: status)
        if closesConnection { response.headers[.connection] = "close" }
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}

extension HTTPResponse.Status {
    /// 507: the server cannot store what the request needs (RFC 4918).
    static var insufficientStorage: Self { .init(code: 507, reasonPhrase: "Insufficient Storage") }
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

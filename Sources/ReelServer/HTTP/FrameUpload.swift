import Foundation
import Hummingbird
import NIOCore
import ReelHTTP

/// The JPEG bytes of an upload: the `image` file field of a multipart form (the
/// original clients), or the whole body when it is sent as `image/jpeg`.
enum FrameUpload {
    static let fieldName = "image"

    static func jpeg(from request: Request, limit: Int) async throws -> ByteBuffer {
        let contentType = request.headers[.contentType] ?? ""
        let body = try await self.body(of: request, limit: limit)
        let frame: ByteBuffer
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            frame = try field(named: fieldName, in: body, contentType: contentType)
        } else {
            frame = body
        }
        guard frame.readableBytes > 0 else { throw UploadError.empty }
        guard frame.readableBytes <= limit else {
            throw UploadError.frameTooLarge(limit: limit)
        }
        return frame
    }

    /// The whole body of an upload whose frame may be `limit` bytes.
    static func body(of request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            // Multipart adds headers and boundaries around the frame: allow for them.
            return try await request.body.collect(upTo: limit + 64 * 1024)
        } catch is NIOTooManyBytesError {
            throw UploadError.bodyTooLarge(limit: limit)
        }
    }

    private static func field(named name: String, in body: ByteBuffer, contentType: String) throws -> ByteBuffer {
        guard let boundary = FormData.boundary(in: contentType) else {
            throw UploadError.noBoundary
        }
        guard let range = body.withUnsafeReadableBytes({ FormData.part(named: name, in: $0, boundary: boundary) }) else {
            throw UploadError.noField(name)
        }
        return body.getSlice(at: body.readerIndex + range.lowerBound, length: range.count)!
    }
}

/// Why an upload's body holds no frame to take.
enum UploadError: Error, Equatable, CustomStringConvertible {
    case empty
    /// The body went past the limit while it was read.
    case bodyTooLarge(limit: Int)
    /// The frame within a form is over the limit.
    case frameTooLarge(limit: Int)
    case noBoundary
    case noField(String)

    var description: String {
        switch self {
        case .empty: "the frame is empty"
        case .bodyTooLarge(let limit), .frameTooLarge(let limit): "the frame is larger than the limit of \(limit) bytes"
        case .noBoundary: "multipart/form-data without a boundary"
        case .noField(let name): "the form has no file field \"\(name)\""
        }
    }
}

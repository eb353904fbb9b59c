import Hummingbird
import ReelErrors
import ReelMedia

/// Maps every error to the service's JSON answer, once, at the edge: domain
/// errors to their statuses, the router's own (no such route) to the same
/// `{"status": "error", "message": …}` shape.
struct ErrorAnswers<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as RecordingError {
            throw APIError(error)
        } catch let error as UploadError {
            throw APIError(error)
        } catch let error as MediaError {
            throw APIError(error)
        } catch let error as LowDiskSpace {
            throw APIError(error)
        } catch let error as CatalogDatabaseError {
            // The catalog's database cannot answer now: the client may ask again.
            throw APIError(.serviceUnavailable, error.description, retryAfter: 5)
        } catch let error as HTTPError where error.status == .notFound {
            throw APIError(.notFound, "no route \(request.method) \(request.uri.path)")
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? "\(error.status.reasonPhrase)")
        } catch {
            throw APIError(.internalServerError, describe(error))
        }
    }
}

extension APIError {
    init(_ error: RecordingError) {
        let status: HTTPResponse.Status
        var extra: [String: JSONValue] = [:]
        switch error {
        case .noneInProgress, .unknown: status = .notFound
        case .alreadyFinished, .idTaken, .frameLimit, .timeLimit, .busy, .beingDeleted, .notLive: status = .conflict
        case .deletingFailed(_, _, let storageAway): status = storageAway ? .serviceUnavailable : .badGateway
        case .tooMany: status = .tooManyRequests
        case .recordedElsewhere: status = .misdirectedRequest
        case .stopping:
            self.init(.serviceUnavailable, error.description, retryAfter: 5)
            return
        case .instanceLost(_, _, _, _, let retryAfter):
            self.init(.serviceUnavailable, error.description, retryAfter: retryAfter)
            return
        case .encodersFull(_, _, _, _, _, let retryAfter):
            self.init(.serviceUnavailable, error.description, retryAfter: retryAfter)
            return
        case .cannotStart: status = .internalServerError
        case .noSpaceToStart: status = .insufficientStorage
        case .unknownCursor, .timestampOutOfRange: status = .badRequest
        case .storingFailed(let id, _):
            status = .internalServerError
            extra = ["id": .string(id), "pending": .bool(true)]
        case .noSpaceToFinish(let id, _, _):
            status = .insufficientStorage
            extra = ["id": .string(id), "pending": .bool(true)]
        }
        self.init(status, error.description, extra: extra)
    }

    init(_ error: UploadError) {
        switch error {
        case .empty, .noBoundary, .noField: self.init(.badRequest, "\(error)")
        // The rest of a body over the limit is not worth reading: the connection closes.
        case .bodyTooLarge: self.init(.contentTooLarge, "\(error)", closesConnection: true)
        case .frameTooLarge: self.init(.contentTooLarge, "\(error)")
        }
    }

    /// The disk is under `--min-free`: 507 with the figures.
    init(_ error: LowDiskSpace) {
        self.init(.insufficientStorage, "\(error); free space or lower --min-free",
                  extra: ["free bytes": .int(error.bytesFree == Int.max ? -1 : error.bytesFree),
                          "min free bytes": .int(error.minimum)])
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
        case .diskFull(let path): self.init(.insufficientStorage, "cannot write \(path): the disk is full")
        case .ffmpeg, .jpegEncoding, .file: self.init(.internalServerError, "encoding failed: \(error)")
        }
    }
}

import Hummingbird
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
        } catch let error as MediaError {
            throw APIError(error)
        } catch let error as LowDiskSpace {
            throw APIError(error)
        } catch let error as HTTPError where error.status == .notFound {
            throw APIError(.notFound, "no route \(request.method) \(request.uri.path)")
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? "\(error.status.reasonPhrase)")
        }
    }
}

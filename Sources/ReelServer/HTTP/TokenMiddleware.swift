import Hummingbird

/// Requires `Authorization: Bearer <token>` (or `?token=` where a header cannot
/// be set, as in a `<video src>`) on every route but the CORS preflight, health
/// and the web page itself (which asks for the token).
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if request.method == .options || path == "/healthz" || path == "/readyz" || path == "/" || path.hasPrefix("/assets/") {
            return try await next(request, context)
        }
        let header = request.headers[.authorization] ?? ""
        let given = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count))
            : request.uri.queryParameters.get("token")
        guard let given, constantTimeEqual(given, token) else {
            throw APIError(.unauthorized, "a valid bearer token is required")
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference, so timing tells nothing.
    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        var difference = left.count ^ right.count
        for index in 0..<min(left.count, right.count) { difference |= Int(left[index] ^ right[index]) }
        return difference == 0
    }
}

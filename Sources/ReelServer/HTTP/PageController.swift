import Foundation
import Hummingbird

/// The web page at `/` and its script and style under `/assets/` (the files of
/// `Sources/ReelServer/Page`), and the API's description at `/openapi.yaml`:
/// compiled into the binary (nothing to install beside it), answered from memory.
struct PageController<Context: RequestContext> {
    private let files: [String: ByteBuffer] = [
        "index.html": ByteBuffer(bytes: PackageResources.index_html),
        "app.js": ByteBuffer(bytes: PackageResources.app_js),
        "style.css": ByteBuffer(bytes: PackageResources.style_css),
    ]
    private let apiDescription = ByteBuffer(bytes: PackageResources.openapi_yaml)

    func addRoutes(to router: Router<Context>) {
        router.get("/") { _, _ in try self.answer("index.html") }
        router.get("openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml", .cacheControl: "no-cache"],
                     body: ResponseBody(byteBuffer: self.apiDescription))
        }
        router.get("assets/:file") { _, context in try self.answer(context.parameters.require("file")) }
    }

    private func answer(_ name: String) throws -> Response {
        guard let body = files[name] else { throw APIError(.notFound, "no such file: \(name)") }
        return Response(status: .ok, headers: [.contentType: Self.contentType(of: name), .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: body))
    }

    private static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}

import Foundation
import Hummingbird

/// The web page at `/` and its script and style under `/assets/`: package
/// resources (`Sources/ReelServer/Page`), read once and answered from memory.
struct PageController<Context: RequestContext> {
    /// File name to contents; empty when the resources are not installed next to the binary.
    private let files: [String: ByteBuffer]

    init() {
        files = Self.loadFiles()
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/") { _, _ in try self.answer("index.html") }
        router.get("assets/:file") { _, context in try self.answer(context.parameters.get("file") ?? "") }
    }

    private func answer(_ name: String) throws -> Response {
        guard let body = files[name] else {
            throw APIError(.notFound, files.isEmpty
                ? "the web page's files are not installed: \(Self.bundleName) must sit next to the reel binary"
                : "no such file: \(name)")
        }
        return Response(status: .ok, headers: [.contentType: Self.contentType(of: name), .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: body))
    }

    private static var bundleName: String { "Reel_ReelServer.resources" }

    private static func loadFiles() -> [String: ByteBuffer] {
        // Bundle.module stops the process when its folder is missing (a binary copied
        // alone); look first, so the server then runs without its page instead.
        let beside = Bundle.main.bundleURL.appendingPathComponent(bundleName).path
        guard FileManager.default.fileExists(atPath: beside),
              let folder = Bundle.module.url(forResource: "Page", withExtension: nil) else { return [:] }
        var files: [String: ByteBuffer] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) {
                files[name] = ByteBuffer(bytes: data)
            }
        }
        return files
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

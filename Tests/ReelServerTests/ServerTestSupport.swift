import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ReelTestSupport
@testable import ReelServer

/// Settings for a server whose folders live in a scratch folder, small and quick.
func testSettings(_ scratch: ScratchFolder, _ change: (inout ServerSettings) -> Void = { _ in }) -> ServerSettings {
    var settings = ServerSettings()
    settings.host = "127.0.0.1"
    settings.port = 0
    settings.storageDirectory = scratch.file("videos")
    settings.spoolDirectory = scratch.file("spool")
    settings.recordingsDirectory = scratch.file("recordings")
    // A fixed preset: admission by CPU is tested on its own (EncoderCapacityTests).
    settings.presetPolicy = .fixed("ultrafast")
    settings.encoder.preset = "ultrafast"
    settings.encoder.threads = 1
    change(&settings)
    return settings
}

func testApplication(_ settings: ServerSettings) async throws -> some ApplicationProtocol {
    var logger = Logger(label: "reel-test")
    logger.logLevel = .warning
    return try await buildApplication(settings: settings, logger: logger)
}

/// A JSON answer as a dictionary; empty when the body is not a JSON object.
func json(_ response: TestResponse) -> [String: Any] {
    let object = try? JSONSerialization.jsonObject(with: Data(buffer: response.body))
    return object as? [String: Any] ?? [:]
}

/// The `message` of a JSON error answer.
func message(_ response: TestResponse) -> String {
    json(response)["message"] as? String ?? ""
}

/// The multipart body the original Python client sends for one frame.
func multipartFrame(_ jpeg: [UInt8], field: String = "image") -> (HTTPFields, ByteBuffer) {
    let boundary = "reel-test-boundary-7d1f"
    var body = ByteBuffer()
    body.writeString("--\(boundary)\r\n")
    body.writeString("Content-Disposition: form-data; name=\"\(field)\"; filename=\"image.jpg\"\r\n")
    body.writeString("Content-Type: image/jpeg\r\n\r\n")
    body.writeBytes(jpeg)
    body.writeString("\r\n--\(boundary)--\r\n")
    return ([.contentType: "multipart/form-data; boundary=\(boundary)"], body)
}

extension TestClientProtocol {
    /// Starts a recording and returns its id.
    func createRecording(headers: HTTPFields = [:]) async throws -> String {
        try await execute(uri: "/video/create_video", method: .get, headers: headers) { response in
            guard response.status == .ok, let id = json(response)["id"] as? String else {
                throw ProbeError(message: "create_video answered \(response.status)")
            }
            return id
        }
    }

    /// Uploads a fixture as the original client does (multipart, field `image`).
    @discardableResult
    func upload(_ fixture: String, id: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        var (fields, body) = multipartFrame(try Fixtures.bytes(fixture))
        fields.append(contentsOf: headers)
        let query = id.map { "?id=\($0)" } ?? ""
        return try await execute(uri: "/video/video_upload\(query)", method: .post, headers: fields, body: body) { $0 }
    }
}

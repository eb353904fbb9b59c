import Foundation

/// The project's stand-in for Supabase Storage (Tests/SupabaseStandIn/standin.py),
/// started on 127.0.0.1 for one test and stopped with it.
public final class SupabaseStandIn: @unchecked Sendable {
    public let url: String
    public let key: String
    private let process: Process

    public static let script = Fixtures.folder.deletingLastPathComponent()
        .appendingPathComponent("Tests/SupabaseStandIn/standin.py").path

    /// `buckets` are `name:public` or `name:private`.
    public init(key: String = "test-service-key", buckets: [String] = ["videos:public", "private-videos:private"],
                arguments: [String] = []) throws {
        self.key = key
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--port", "0", "--key", key]
            + buckets.flatMap { ["--bucket", $0] } + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The one line it prints once it listens: "listening http://127.0.0.1:PORT".
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening ") else {
            process.terminate()
            throw ProbeError(message: "the Supabase stand-in did not start: \(text)")
        }
        url = String(text.dropFirst("listening ".count))
    }

    deinit {
        // A test double with nothing to save: stopped at once, never waited for.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Queues faults, e.g. `[["fail": 2, "status": 503]]`, or sets `["down": true]`.
    public func faults(_ faults: [[String: any Sendable]]) async throws {
        _ = try await control("POST", "faults", body: faults)
    }

    /// Stored objects by `bucket/path`: size and SHA-256.
    public func objects() async throws -> [String: [String: Any]] {
        try await control("GET", "objects") as? [String: [String: Any]] ?? [:]
    }

    /// The raw bytes of a stored object.
    public func object(_ key: String) async throws -> Data {
        try await request("GET", "/_control/object/\(key)").data
    }

    /// Every storage request seen: method, path, status, bytes received, some headers.
    public func requests() async throws -> [[String: Any]] {
        try await control("GET", "requests") as? [[String: Any]] ?? []
    }

    public func config(_ values: [String: any Sendable]) async throws {
        _ = try await control("POST", "config", body: values)
    }

    @discardableResult
    public func control(_ method: String, _ path: String, body: Any? = nil) async throws -> Any? {
        let data = try await request(method, "/_control/\(path)", body: body).data
        return data.isEmpty ? nil : try JSONSerialization.jsonObject(with: data)
    }

    /// A plain HTTP exchange with the stand-in, through curl (as a client outside reel).
    public func request(_ method: String, _ path: String, headers: [String] = [], body: Any? = nil) async throws -> (status: Int, data: Data) {
        var arguments = ["-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", url + path]
        for header in headers { arguments += ["-H", header] }
        if let body {
            arguments += ["-H", "Content-Type: application/json",
                          "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let result = try await run("curl", arguments)
        var output = result.output
        guard let newline = output.lastIndex(of: UInt8(ascii: "\n")) else { throw ProbeError(message: "curl: \(result.errors)") }
        let status = Int(String(decoding: output[(newline + 1)...], as: UTF8.self)) ?? 0
        output = output[..<newline]
        return (status, Data(output))
    }
}

import Foundation

/// A finished recording whose MP4 is not stored yet: kept on disk with this
/// sidecar until storage takes it, across restarts. Nothing is deleted before.
struct PendingUpload: Codable, Sendable {
    var id: String
    /// The object name, fixed at finish so every attempt stores the same object.
    var name: String
    var frames: Int
    var duration: Double
    var bytes: Int
    var attempts = 0
    var lastError: String?
    var nextAttempt = Date()

    /// The folder of pending uploads inside the spool.
    static func folder(in spool: String) -> String { (spool as NSString).appendingPathComponent("pending") }
    static func videoPath(id: String, in spool: String) -> String { folder(in: spool) + "/\(id).mp4" }
    static func sidecarPath(id: String, in spool: String) -> String { folder(in: spool) + "/\(id).json" }

    func save(in spool: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        // Write then rename: a crash never leaves half a sidecar.
        let path = Self.sidecarPath(id: id, in: spool)
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func load(id: String, in spool: String) -> PendingUpload? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let data = FileManager.default.contents(atPath: sidecarPath(id: id, in: spool)) else { return nil }
        return try? decoder.decode(PendingUpload.self, from: data)
    }

    func remove(in spool: String) {
        try? FileManager.default.removeItem(atPath: Self.videoPath(id: id, in: spool))
        try? FileManager.default.removeItem(atPath: Self.sidecarPath(id: id, in: spool))
    }
}

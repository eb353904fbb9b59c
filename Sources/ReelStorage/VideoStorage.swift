import Foundation

/// Where a stored video can be fetched from.
public enum StoredLocation: Codable, Equatable, Sendable {
    /// A path under the server's own URL, e.g. `videos/video-1700000000000.mp4`.
    case servedLocally(path: String)
    /// An absolute URL elsewhere (a storage bucket's public or signed URL).
    case remote(url: String)
}

/// A finished MP4 handed to storage.
public struct StoredVideo: Equatable, Sendable {
    public var name: String
    public var location: StoredLocation
    public var bytes: Int
    /// When `location` stops playing (a signed URL's end); nil when it never does.
    public var expires: Date?

    public init(name: String, location: StoredLocation, bytes: Int, expires: Date? = nil) {
        self.name = name
        self.location = location
        self.bytes = bytes
        self.expires = expires
    }
}

/// Keeps finished recordings somewhere they can be played from.
public protocol VideoStorage: Sendable {
    /// Stores the MP4 at `file` under `name`. On success the storage owns the
    /// file's bytes and the caller may delete `file`; on failure `file` is untouched.
    func store(file: String, name: String) async throws -> StoredVideo

    /// Where the stored object `name` plays from now, and until when: the same
    /// as at storing, or a new URL where the old one expires.
    func playableLocation(of name: String) async throws -> (location: StoredLocation, expires: Date?)

    /// How long the locations it answers play (a signed URL's life); nil when they never stop.
    var locationLifetime: TimeInterval? { get }

    /// Deletes the stored object `name`; one that is not there is already deleted.
    func delete(name: String) async throws
}

extension VideoStorage {
    public var locationLifetime: TimeInterval? { nil }
}

/// Object names as the original service gave them, `video-<unix ms>.mp4`,
/// never the same twice from one process even when two finish in the same millisecond.
public final class VideoNamer: @unchecked Sendable {
    private let lock = NSLock()
    private var lastMilliseconds: Int64 = 0

    public init() {}

    public func nextName(now: Date = Date()) -> String {
        let milliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let unique = lock.withLock {
            lastMilliseconds = max(milliseconds, lastMilliseconds + 1)
            return lastMilliseconds
        }
        return "video-\(unique).mp4"
    }
}

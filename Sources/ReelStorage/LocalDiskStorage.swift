import Foundation
import ReelErrors

/// Stores videos as files in a folder that the server serves itself.
public struct LocalDiskStorage: VideoStorage {
    public let folder: String
    /// The URL path the server serves `folder` under, without slashes at the ends.
    public let urlPath: String

    public init(folder: String, urlPath: String = "videos") throws {
        self.folder = folder
        self.urlPath = urlPath
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// Where the object `name` lives; a name that would leave the folder, or hide in it, is refused.
    private func path(of name: String) throws -> String {
        guard !name.contains("/"), !name.hasPrefix("."), !name.isEmpty else { throw StorageError.invalidName(name) }
        return (folder as NSString).appendingPathComponent(name)
    }

    public func store(file: String, name: String) async throws -> StoredVideo {
        let destination = try path(of: name)
        let files = FileManager.default
        if files.fileExists(atPath: destination) {
            // Stored before a crash let us record it: names are never reused, so the
            // same size means the same video.
            guard fileSize(destination) == fileSize(file) else { throw StorageError.duplicate(name) }
            return StoredVideo(name: name, location: location(of: name), bytes: fileSize(destination))
        }
        // A hard link costs nothing whatever the size (spool and storage usually
        // share a disk); otherwise copy then rename, so the file appears whole or
        // not at all. Either way the caller's file stays until it deletes it.
        if (try? files.linkItem(atPath: file, toPath: destination)) == nil {
            let partial = (folder as NSString).appendingPathComponent(".\(name).partial")
            try? files.removeItem(atPath: partial)
            do {
                try files.copyItem(atPath: file, toPath: partial)
                try files.moveItem(atPath: partial, toPath: destination)
            } catch {
                try? files.removeItem(atPath: partial)
                throw StorageError.unavailable("cannot write \(destination): \(describe(error))")
            }
        }
        return StoredVideo(name: name, location: location(of: name), bytes: fileSize(destination))
    }

    private func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }

    public func playableLocation(of name: String) async throws -> (location: StoredLocation, expires: Date?) {
        (location(of: name), nil)
    }

    public func delete(name: String) async throws {
        let path = try path(of: name)
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch let error as CocoaError where error.code == .fileNoSuchFile {
            return
        } catch {
            throw StorageError.unavailable("cannot delete \(path): \(describe(error))")
        }
    }

    private func location(of name: String) -> StoredLocation { .servedLocally(path: "\(urlPath)/\(name)") }
}

public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidName(String)
    case duplicate(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalidName(let name): "invalid object name \(name)"
        case .duplicate(let name): "\(name) already exists"
        case .unavailable(let reason): "storage unavailable: \(reason)"
        }
    }
}

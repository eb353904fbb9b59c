import Foundation
import Logging
import ReelErrors
import ReelStorage

/// What must hold before `reel serve` takes a request, checked once at start so a
/// wrong folder or key stops the start with its reason instead of failing the
/// first recording.
enum StartupChecks {
    /// Each folder the server writes is created when missing, then written to and read back.
    static func folders(_ settings: ServerSettings) throws {
        var folders = [("spool folder", Setting.spoolDirectory, settings.spoolDirectory),
                       ("recordings folder", Setting.recordingsDirectory, settings.recordingsDirectory)]
        if settings.supabase == nil {
            folders.insert(("storage folder", .storageDirectory, settings.storageDirectory), at: 0)
        }
        for (role, setting, path) in folders {
            try writable(path, role: role, setting: setting)
        }
    }

    /// With a catalog shared by several servers, every server must find every stored video: Supabase,
    /// or a folder all of them mount. Each server leaves its mark in the folder (`.reel-instances/<id>`);
    /// one that does not find the mark of another server that is up does not share its folder.
    static func sharedStorage(_ storage: any VideoStorage, _ settings: ServerSettings, _ instances: InstanceRegistry) async throws {
        guard settings.databaseURL != nil, let local = storage as? LocalDiskStorage else { return }
        let marks = local.folder + "/.reel-instances"
        for other in try await instances.othersUp() where !FileManager.default.fileExists(atPath: marks + "/" + other.id) {
            throw StartupError("the storage folder \(local.folder) is not the one the server \(other.id) (\(other.advertiseURL)) stores into: its mark \(marks)/\(other.id) is not here. Servers sharing a catalog (--database-url) need the same storage: a folder they all mount (--storage-dir), or Supabase Storage")
        }
        do {
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            try Data(instances.advertiseURL.utf8).write(to: URL(fileURLWithPath: marks + "/" + settings.instanceID), options: .atomic)
        } catch {
            throw StartupError("cannot leave this server's mark in the storage folder \(local.folder): \(reason(of: error))")
        }
    }

    private static func writable(_ path: String, role: String, setting: Setting) throws {
        let files = FileManager.default
        var isFolder: ObjCBool = false
        if files.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw StartupError("the \(role) \(path) is a file, not a folder; give another with \(setting.flag) (\(setting.variable))")
        }
        do {
            try files.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StartupError("the \(role) \(path) cannot be created (\(reason(of: error))); give another with \(setting.flag) (\(setting.variable))")
        }
        let probe = (path as NSString).appendingPathComponent(".reel-write-check-\(getpid())")
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StartupError("the \(role) \(path) is not writable (\(reason(errno: errno))); give another with \(setting.flag) (\(setting.variable)), or let the server's user write it")
        }
        close(descriptor)
        unlink(probe)
    }

    /// Asks Supabase for the bucket once: a wrong key or a missing bucket stops the
    /// start; storage that cannot be reached is only a warning, as uploads wait for it.
    static func bucket(_ storage: SupabaseStorage, logger: Logger) async throws {
        let place = "\(storage.configuration.url), bucket \(storage.configuration.bucket)"
        do {
            let isPublic = try await storage.checkBucket()
            logger.info("Supabase Storage bucket found", metadata: [
                "url": "\(storage.configuration.url)", "bucket": "\(storage.configuration.bucket)",
                "public": "\(isPublic)",
            ])
        } catch let error as SupabaseError where !error.isTransient {
            switch error {
            case .unauthorized(let message):
                throw StartupError("Supabase Storage at \(place) refused SUPABASE_KEY (\(message)); check the key: the service role key can read buckets")
            case .bucketNotFound:
                throw StartupError("Supabase Storage at \(place): the bucket does not exist, or the key may not see it; create it or fix BUCKET_NAME")
            default:
                throw StartupError("Supabase Storage at \(place) answered: \(describe(error))")
            }
        } catch {
            logger.warning("Supabase Storage cannot be reached now; recordings are kept and uploaded when it answers",
                           metadata: ["url": "\(storage.configuration.url)", "bucket": "\(storage.configuration.bucket)",
                                      "error": "\(describe(error))"])
        }
    }
}

/// Why the server cannot start, as the one line a person reads.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

import Foundation

/// The process's open-file limit: raised to its hard maximum at start, and the
/// share of it that connections may take, so that sockets never leave a
/// recording without a descriptor for its files.
enum DescriptorLimit {
    /// Descriptors kept for files, x264's threads and storage uploads, besides this many per recording.
    static let reserved = 256
    static let reservedPerRecording = 16

    /// Raises the soft limit to the hard one; answers the limit now in force.
    @discardableResult
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// The soft limit in force.
    static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Descriptors this process has open now.
    static var open: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// The most connections that leave the reserve free, within `limit` descriptors.
    static func connectionsAllowed(within limit: Int, recordings: Int) -> Int {
        max(16, limit - reserved - reservedPerRecording * recordings)
    }
}

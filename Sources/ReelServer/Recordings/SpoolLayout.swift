import Foundation
import ReelMedia

/// Where a recording's files live in the spool folder, and which recording a
/// file found there belongs to: the one place that builds and reads the names.
///
///     <id>.spool.mp4            the fragmented MP4 being written
///     <id>.spool.mp4.journal/   its frame journal
///     pending/<id>.mp4          the finished video waiting for storage
///     pending/<id>.json         an old pending upload's object name (before the catalog)
struct SpoolLayout: Sendable {
    let folder: String

    static let spoolSuffix = ".spool.mp4"

    var pendingFolder: String { folder + "/pending" }

    func spool(_ id: String) -> String { folder + "/" + id + Self.spoolSuffix }
    func journal(_ id: String) -> String { FrameJournal.folder(forSpool: spool(id)) }
    func pendingVideo(_ id: String) -> String { pendingFolder + "/" + id + ".mp4" }
    func legacySidecar(_ id: String) -> String { pendingFolder + "/" + id + ".json" }

    /// Makes the folders.
    func create() throws {
        try FileManager.default.createDirectory(atPath: pendingFolder, withIntermediateDirectories: true)
    }

    /// Recordings that have a spool or a journal (a journal alone: killed before the first fragment).
    func recordingsInProgress() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let journalSuffix = FrameJournal.folder(forSpool: Self.spoolSuffix)
        let ids = names.compactMap { name -> String? in
            for suffix in [Self.spoolSuffix, journalSuffix] where name.hasSuffix(suffix) {
                return String(name.dropLast(suffix.count))
            }
            return nil
        }
        return Set(ids).sorted()
    }

    /// Recordings whose finished video waits in the pending folder.
    func pendingVideos() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: pendingFolder)) ?? []
        return names.filter { $0.hasSuffix(".mp4") }.map { String($0.dropLast(".mp4".count)) }.sorted()
    }

    func hasSpool(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: spool(id)) || FileManager.default.fileExists(atPath: journal(id))
    }

    /// Removes the spool and journal of a recording whose video is made.
    func removeSpool(_ id: String) {
        try? FileManager.default.removeItem(atPath: spool(id))
        try? FileManager.default.removeItem(atPath: journal(id))
    }
}

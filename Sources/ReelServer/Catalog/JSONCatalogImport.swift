import Foundation
import Logging
import ReelErrors

/// The catalog as earlier versions kept it: a folder of `<id>.json` entries
/// and `<id>.jpg` thumbnails. Imported into the database once, at the first
/// start that finds them; then moved to `json-backup/` in the same folder, so
/// nothing of an installation is lost and a downgrade can still find them.
struct JSONCatalogImport {
    let folder: String
    let logger: Logger

    var backupFolder: String { folder + "/json-backup" }

    /// Imports every readable entry not yet in `list` and moves the files aside; returns how many were imported.
    @discardableResult
    func run(into list: RecordingList) async throws -> Int {
        let files = FileManager.default
        let names = ((try? files.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else { return 0 }
        var entries: [(RecordingEntry, thumbnail: [UInt8]?)] = []
        for name in names {
            guard let data = files.contents(atPath: folder + "/" + name),
                  let entry = try? Self.decoder.decode(RecordingEntry.self, from: data) else {
                logger.warning("recording entry unreadable; not imported, moved with the others", metadata: ["file": "\(folder)/\(name)"])
                continue
            }
            let thumbnail = entry.hasThumbnail ? files.contents(atPath: folder + "/\(entry.id).jpg").map { [UInt8]($0) } : nil
            var imported = entry
            imported.hasThumbnail = thumbnail != nil
            entries.append((imported, thumbnail))
        }
        // Imported before anything moves: a crash in between imports again, and what is in already is skipped.
        let added = try await list.importEntries(entries)
        try files.createDirectory(atPath: backupFolder, withIntermediateDirectories: true)
        for name in names {
            let id = String(name.dropLast(5))
            for file in [name, id + ".jpg"] where files.fileExists(atPath: folder + "/" + file) {
                let target = backupFolder + "/" + file
                try? files.removeItem(atPath: target)
                try files.moveItem(atPath: folder + "/" + file, toPath: target)
            }
        }
        logger.info("recordings imported into the catalog database", metadata: [
            "imported": "\(added)", "files": "\(names.count)", "database": "\(list.database.location)", "backup": "\(backupFolder)"])
        return added
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
            }
            return date
        }
        return decoder
    }()
}

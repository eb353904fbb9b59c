import Foundation
import ReelStorage

/// What the server knows of one recording, from its start to its stored video.
/// Saved at every change, so the list of recordings and the uploads still to
/// retry survive a restart.
struct RecordingEntry: Codable, Sendable, Equatable {
    enum State: String, Codable, Sendable {
        /// Taking frames.
        case recording
        /// Encoding what is queued and writing the MP4.
        case finishing
        /// The MP4 waits in the spool for storage to take it.
        case pending
        /// In storage, playable at `location`.
        case stored
        /// Left by a crash and could not be recovered; `lastError` says why.
        case failed
    }

    var id: String
    var created: Date
    var state: State
    var frames = 0
    var duration = 0.0
    var bytes = 0
    /// The object name, fixed at finish so every upload attempt stores the same object.
    var name: String?
    /// Where the stored video plays, and until when (a signed URL's end).
    var location: StoredLocation?
    var locationExpires: Date?
    var attempts = 0
    var lastError: String?
    var nextAttempt: Date?
    var hasThumbnail = false
    /// The x264 preset it was encoded with; nil for recordings older than the field.
    var preset: String?

    /// Newest first; the id breaks ties so pages never overlap.
    static func newerFirst(_ left: RecordingEntry, _ right: RecordingEntry) -> Bool {
        left.created != right.created ? left.created > right.created : left.id > right.id
    }
}

/// Where recording entries and their thumbnails are kept.
protocol Catalog: Sendable {
    /// Where, for messages.
    var location: String { get }
    func save(_ entry: RecordingEntry) throws
    func saveThumbnail(_ jpeg: [UInt8], id: String) throws
    func thumbnailPath(id: String) -> String
    /// Every readable entry; what is not one is skipped and named in `unreadable`.
    func loadAll() -> (entries: [RecordingEntry], unreadable: [String])
    func remove(id: String)
}

/// The folder of recording entries: `<id>.json`, and `<id>.jpg` for the thumbnail.
struct RecordingCatalog: Catalog {
    let folder: String
    var location: String { folder }

    init(folder: String) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func entryPath(id: String) -> String { folder + "/\(id).json" }
    func thumbnailPath(id: String) -> String { folder + "/\(id).jpg" }

    func save(_ entry: RecordingEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timestamp(date))
        }
        // Write then rename: a crash never leaves half an entry.
        try encoder.encode(entry).write(to: URL(fileURLWithPath: entryPath(id: entry.id)), options: .atomic)
    }

    func saveThumbnail(_ jpeg: [UInt8], id: String) throws {
        try Data(jpeg).write(to: URL(fileURLWithPath: thumbnailPath(id: id)), options: .atomic)
    }

    /// Every readable entry; a file that is not one is skipped and named in `unreadable`.
    func loadAll() -> (entries: [RecordingEntry], unreadable: [String]) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Self.date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
            }
            return date
        }
        var entries: [RecordingEntry] = [], unreadable: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".json") {
            if let data = FileManager.default.contents(atPath: folder + "/" + name),
               let entry = try? decoder.decode(RecordingEntry.self, from: data) {
                entries.append(entry)
            } else {
                unreadable.append(name)
            }
        }
        return (entries, unreadable)
    }

    func remove(id: String) {
        try? FileManager.default.removeItem(atPath: entryPath(id: id))
        try? FileManager.default.removeItem(atPath: thumbnailPath(id: id))
    }

    /// ISO 8601 with milliseconds, UTC (`2026-11-25T15:41:15.123Z`): what the
    /// JSON answers carry too. Made from whole milliseconds so that `date` of a
    /// timestamp gives back exactly the date it came from.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, positiveFraction) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        let text = Date(timeIntervalSince1970: Double(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        return text.dropLast() + "." + String(String(positiveFraction + 1000).dropFirst()) + "Z"
    }

    static func date(_ text: String) -> Date? {
        var whole = text, fraction = 0.0
        if text.hasSuffix("Z"), let dot = text.lastIndex(of: ".") {
            let digits = text[text.index(after: dot)..<text.index(before: text.endIndex)]
            guard !digits.isEmpty, let value = Int(digits) else { return nil }
            fraction = Double(value) / pow(10, Double(digits.count))
            whole = text[..<dot] + "Z"
        }
        guard let seconds = try? Date.ISO8601FormatStyle().parse(whole) else { return nil }
        return Date(timeIntervalSince1970: seconds.timeIntervalSince1970 + fraction)
    }
}

import Foundation
import ReelStorage

/// What the server knows of one recording, from its start to its stored video.
/// Saved in the catalog at every change, so the list of recordings and the
/// uploads still to retry survive a restart.
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
    /// The server (`--instance-id`) that records it and holds its spool; nil for recordings older than the field.
    var instance: String?

    /// Newest first; the id breaks ties so pages never overlap.
    static func newerFirst(_ left: RecordingEntry, _ right: RecordingEntry) -> Bool {
        left.created != right.created ? left.created > right.created : left.id > right.id
    }
}

/// The times the API and the catalog give: ISO 8601 with milliseconds, UTC.
enum Timestamp {
    /// ISO 8601 with milliseconds, UTC (`2026-11-25T15:41:15.123Z`): what the
    /// JSON answers carry too. Made from whole milliseconds so that `date` of a
    /// timestamp gives back exactly the date it came from.
    static func text(_ date: Date) -> String {
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

    /// The date to whole milliseconds: what the catalog keeps, so an entry read back is the same.
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

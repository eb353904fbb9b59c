import Foundation
import Logging
import ReelErrors
import ReelStorage

/// Keeps stored videos' URLs playing: a signed URL near its end is signed again
/// when the list or a status meets it. When storage cannot sign, the old URL
/// stays and renewals pause for a minute, so lists answer at once meanwhile.
actor LocationRenewal {
    private let recordings: RecordingList
    private let storage: any VideoStorage
    private let logger: Logger
    private var renewing: Set<String> = []
    private var pausedUntil = Date.distantPast

    init(recordings: RecordingList, storage: any VideoStorage, logger: Logger) {
        self.recordings = recordings
        self.storage = storage
        self.logger = logger
    }

    /// Signs the recording's URL again when it ends within an hour, or within half its life; returns the
    /// entry with its new URL, nil when it was left as it is.
    func renewIfExpiring(_ entry: RecordingEntry) async -> RecordingEntry? {
        guard entry.state == .stored, let name = entry.name, let expires = entry.locationExpires else { return nil }
        let lifetime = storage.locationLifetime ?? .infinity
        let id = entry.id
        guard expires.timeIntervalSinceNow < min(3600, lifetime / 2), !renewing.contains(id),
              pausedUntil < Date() else { return nil }
        renewing.insert(id)
        defer { renewing.remove(id) }
        do {
            let (location, newExpiry) = try await storage.playableLocation(of: name)
            await recordings.update(id) { $0.location = location; $0.locationExpires = newExpiry }
            var renewed = entry
            renewed.location = location
            renewed.locationExpires = newExpiry
            return renewed
        } catch {
            pausedUntil = Date().addingTimeInterval(60)
            logger.warning("cannot renew the video's URL", metadata: ["recording.id": "\(id)", "error": "\(describe(error))"])
            return nil
        }
    }
}

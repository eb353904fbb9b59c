import Foundation
import Logging
import ReelErrors
import ReelMedia
import ReelStorage

/// Takes up what an earlier process left in the spool, once, before the
/// server takes requests: recordings in progress (spool and journal) become
/// pending uploads, and videos already pending are due again at once.
struct SpoolRecovery {
    let list: RecordingList
    let layout: SpoolLayout
    let uploads: UploadQueue
    let namer: VideoNamer
    let metrics: ServerMetrics
    let logger: Logger

    /// Takes up what an earlier process left: recordings in progress (fragmented
    /// MP4, cut after their last complete fragment and remuxed) become pending
    /// uploads, and pending uploads are tried again at once.
    func run() {
        let files = FileManager.default
        for id in layout.recordingsInProgress() {
            let path = layout.spool(id)
            let lastWritten = files.fileExists(atPath: path) ? modificationDate(path) : modificationDate(layout.journal(id))
            do {
                let summary = try SpoolRestorer.restore(spool: path, to: layout.pendingVideo(id))
                layout.removeSpool(id)
                takeUp(id, summary: summary, created: lastWritten)
                logger.info("recording recovered from the spool", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
            } catch MediaError.noFrames {
                layout.removeSpool(id)
                try? files.removeItem(atPath: layout.pendingVideo(id))
                list.forget(id)
                logger.info("spooled recording had no complete frames; removed", metadata: ["recording.id": "\(id)"])
            } catch {
                try? files.removeItem(atPath: layout.pendingVideo(id))
                let diskFull = isDiskFull(error)
                list.upsert(id, createdIfNew: lastWritten) {
                    // Without space it waits, spool and journal kept, for the next attempt.
                    $0.state = diskFull ? .pending : .failed
                    $0.name = $0.name ?? (diskFull ? namer.nextName() : nil)
                    $0.lastError = "\(describe(error))"
                    $0.nextAttempt = diskFull ? Date().addingTimeInterval(uploads.retryDelay(after: 1)) : nil
                }
                logger.error("cannot recover spooled recording", metadata: ["recording.id": "\(id)", "error": "\(describe(error))"])
            }
        }
        for id in layout.pendingVideos() {
            let path = layout.pendingVideo(id)
            switch list.entry(id)?.state {
            case .pending:
                list.update(id) { $0.nextAttempt = Date() }
            case .stored:
                try? files.removeItem(atPath: path)  // stored, then a crash before the copy was deleted
            default:
                // Remuxed but never marked pending: a crash in between; or a pending
                // upload from before the catalog, its object name in a sidecar.
                let sidecar = layout.legacySidecar(id)
                let legacy = files.contents(atPath: sidecar).flatMap { try? JSONDecoder().decode(LegacySidecar.self, from: $0) }
                if let summary = try? MP4Remuxer.probe(path) {
                    takeUp(id, summary: summary, created: modificationDate(path), name: legacy?.name)
                    try? files.removeItem(atPath: sidecar)
                }
            }
        }
        // Recordings that were in progress and left nothing behind had no frames.
        for entry in list.entries(in: [.recording, .finishing]) {
            list.forget(entry.id)
        }
        metrics.uploadsPending.set(list.pendingCount)
    }

    /// A recovered MP4 becomes a pending upload, due at once, with a thumbnail
    /// decoded from the video itself (no decoded frame survived the crash).
    private func takeUp(_ id: String, summary: VideoSummary, created: Date, name: String? = nil) {
        let video = layout.pendingVideo(id)
        let hasThumbnail = list.entry(id)?.hasThumbnail == true
            || list.saveThumbnail(id) { try VideoFrame.picture(inMP4: video, at: 1).jpegThumbnail() }
        list.upsert(id, createdIfNew: created) {
            $0.hasThumbnail = hasThumbnail
            $0.state = .pending
            $0.name = $0.name ?? name ?? namer.nextName()
            $0.frames = summary.frames
            $0.duration = summary.duration
            $0.bytes = summary.bytes
            $0.nextAttempt = Date()
        }
    }

    private func modificationDate(_ path: String) -> Date {
        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date()
    }
}

/// The sidecar a pending upload had before recordings were catalogued; its
/// object name is kept so the upload stores the object it always meant to.
private struct LegacySidecar: Decodable {
    var name: String
}

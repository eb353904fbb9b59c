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
    /// This server's `--instance-id`.
    let instance: String
    let logger: Logger

    /// Takes up what an earlier process left: recordings in progress (fragmented
    /// MP4, cut after their last complete fragment and remuxed) become pending
    /// uploads, and pending uploads are tried again at once.
    func run() async {
        let files = FileManager.default
        for id in layout.recordingsInProgress() {
            let path = layout.spool(id)
            let lastWritten = files.fileExists(atPath: path) ? modificationDate(path) : modificationDate(layout.journal(id))
            do {
                let summary = try SpoolRestorer.restore(spool: path, to: layout.pendingVideo(id))
                layout.removeSpool(id)
                await takeUp(id, summary: summary, created: lastWritten)
                logger.info("recording recovered from the spool", metadata: ["recording.id": "\(id)", "frames": "\(summary.frames)"])
            } catch MediaError.noFrames {
                layout.removeSpool(id)
                try? files.removeItem(atPath: layout.pendingVideo(id))
                await list.forget(id)
                logger.info("spooled recording had no complete frames; removed", metadata: ["recording.id": "\(id)"])
            } catch {
                try? files.removeItem(atPath: layout.pendingVideo(id))
                let diskFull = isDiskFull(error)
                let name = diskFull ? namer.nextName() : nil, why = describe(error)
                let nextAttempt = diskFull ? Date().addingTimeInterval(uploads.retryDelay(after: 1)) : nil
                await list.upsert(id, createdIfNew: lastWritten) { [instance] in
                    $0.instance = instance
                    // Without space it waits, spool and journal kept, for the next attempt.
                    $0.state = diskFull ? .pending : .failed
                    $0.name = $0.name ?? name
                    $0.lastError = why
                    $0.nextAttempt = nextAttempt
                }
                logger.error("cannot recover spooled recording", metadata: ["recording.id": "\(id)", "error": "\(describe(error))"])
            }
        }
        for id in layout.pendingVideos() {
            let path = layout.pendingVideo(id)
            let listed = (try? await list.entry(id)) ?? nil
            switch listed?.state {
            case .pending:
                let now = Date()
                await list.update(id) { $0.nextAttempt = now }
            case .stored:
                try? files.removeItem(atPath: path)  // stored, then a crash before the copy was deleted
            default:
                // Remuxed but never marked pending: a crash in between; or a pending
                // upload from before the catalog, its object name in a sidecar.
                let sidecar = layout.legacySidecar(id)
                let legacy = files.contents(atPath: sidecar).flatMap { try? JSONDecoder().decode(LegacySidecar.self, from: $0) }
                if let summary = try? MP4Remuxer.probe(path) {
                    await takeUp(id, summary: summary, created: modificationDate(path), name: legacy?.name)
                    try? files.removeItem(atPath: sidecar)
                }
            }
        }
        // This server's recordings that were in progress and left nothing behind had no frames. Another
        // server's (sharing the catalog) are its own to take up.
        for entry in (try? await list.entries(in: [.recording, .finishing])) ?? [] where entry.instance ?? instance == instance {
            await list.forget(entry.id)
        }
        await uploads.notePending()
    }

    /// A recovered MP4 becomes a pending upload, due at once, with a thumbnail
    /// decoded from the video itself (no decoded frame survived the crash).
    private func takeUp(_ id: String, summary: VideoSummary, created: Date, name: String? = nil) async {
        let video = layout.pendingVideo(id)
        let listed = (try? await list.entry(id)) ?? nil
        let hasThumbnail = if listed?.hasThumbnail == true { true } else {
            await list.saveThumbnail(id) { try VideoFrame.picture(inMP4: video, at: 1).jpegThumbnail() }
        }
        let name = name ?? namer.nextName(), now = Date()
        await list.upsert(id, createdIfNew: created) { [instance] in
            $0.instance = instance
            $0.hasThumbnail = hasThumbnail
            $0.state = .pending
            $0.name = $0.name ?? name
            $0.frames = summary.frames
            $0.duration = summary.duration
            $0.bytes = summary.bytes
            $0.nextAttempt = now
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

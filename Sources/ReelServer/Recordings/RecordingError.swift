/// What the recordings refuse, in their own words; `ErrorAnswers` maps each to
/// an HTTP status at the edge, `RefusalReason` to a metric label.
enum RecordingError: Error, Equatable, CustomStringConvertible {
    /// A request named no recording and none is in progress.
    case noneInProgress
    case unknown(id: String)
    case alreadyFinished(id: String)
    /// A client chose the id of a recording that exists.
    case idTaken(id: String)
    case frameLimit(id: String, frames: Int)
    case timeLimit(id: String, seconds: Int)
    /// As many recordings are in progress as the server takes.
    case tooMany(active: Int)
    /// The cores are taken: another recording, even at the fastest preset, would make every recording fall behind.
    case encodersFull(recordings: Int, load: Double, cores: Double, fastest: String, needs: Double, retryAfter: Int)
    /// The spool could not be made; `reason` says why.
    case cannotStart(reason: String)
    /// The disk filled as the recording's files were made.
    case noSpaceToStart(path: String)
    /// A frame's `X-Reel-Timestamp` lies further from the recording's first than the recording may last.
    case timestampOutOfRange(id: String, timestamp: Int64, first: Int64, seconds: Int)
    /// Deleting waits until the recording is stored or failed (`state`: what it is now).
    case busy(id: String, state: String)
    /// Another request is deleting it now.
    case beingDeleted(id: String)
    /// Storage did not delete the video; `storageAway` when it could not be reached rather than refused.
    case deletingFailed(id: String, reason: String, storageAway: Bool)
    /// Its live view has ended (`state`: what the recording is now); its video is watched from storage.
    case notLive(id: String, state: String)
    /// Another server sharing the catalog records it (`instance`, its `--instance-id`, at `url`): its
    /// frames, finish, status and live view are answered there (relayed, or 421 when relayed already).
    case recordedElsewhere(id: String, instance: String, url: String, here: String)
    /// The server that records it (`instance`, at `url`) has not beaten for `seconds`: its frames cannot be taken now.
    case instanceLost(id: String, instance: String, url: String, seconds: Int, retryAfter: Int)
    /// The server is stopping: it finishes its recordings and starts none.
    case stopping(instance: String)
    /// The list was asked to continue from a recording it does not hold.
    case unknownCursor(id: String)
    /// The video is made but storage refused it: it is kept and sent again.
    case storingFailed(id: String, reason: String)
    /// No space to write the finished video: spool and journal are kept, it is made when space returns.
    case noSpaceToFinish(id: String, frames: Int, reason: String)

    var isRecordedElsewhere: Bool {
        if case .recordedElsewhere = self { true } else { false }
    }

    var description: String {
        switch self {
        case .noneInProgress: "no recording in progress: call /video/create_video first"
        case .unknown(let id): "no recording with id \(id)"
        case .alreadyFinished(let id): "recording \(id) is already finished"
        case .idTaken(let id): "a recording with id \(id) exists already; choose another id, or none and the server chooses"
        case let .frameLimit(id, frames): "recording \(id) reached its limit of \(frames) frames; finish it"
        case let .timeLimit(id, seconds): "recording \(id) reached its limit of \(seconds) seconds; finish it"
        case .tooMany(let active): "\(active) recordings are in progress, the limit; finish one first"
        case let .encodersFull(recordings, load, cores, fastest, needs, retryAfter):
            "no CPU for another recording: the \(recordings) in progress are expected to take \(formatCores(load)) of the \(formatCores(cores)) cores recordings may use (--encoder-cores), and one more needs \(formatCores(needs)) even at \(fastest); try again in \(retryAfter) s"
        case .cannotStart(let reason): "cannot start a recording: \(reason)"
        case .noSpaceToStart(let path): "cannot start a recording: the disk of \(path) is full"
        case let .timestampOutOfRange(id, timestamp, first, seconds):
            "X-Reel-Timestamp \(timestamp) is more than \(seconds) s (the recording's limit) from recording \(id)'s first frame at \(first); the frame is refused"
        case let .busy(id, state): "recording \(id) is \(state); it can be deleted once stored"
        case .beingDeleted(let id): "recording \(id) is being deleted by another request"
        case let .deletingFailed(id, reason, _): "deleting recording \(id) failed, nothing was removed: \(reason)"
        case let .notLive(id, state): "recording \(id) is not live any more (it is \(state)); watch its stored video instead"
        case let .recordedElsewhere(id, instance, url, here):
            "recording \(id) is recorded by the server \(instance) (\(url)), not by this one (\(here)), and the request was relayed here already; send it to \(instance)"
        case let .instanceLost(id, instance, url, seconds, retryAfter):
            "recording \(id) is recorded by the server \(instance) (\(url)), which has not answered for \(seconds) s; its frames are kept by the client and taken when it is back: try again in \(retryAfter) s"
        case .stopping(let instance):
            "this server (\(instance)) is stopping and starts no recording; start it on another, or here once it is back"
        case .unknownCursor(let id): "no recording with id \(id) to list from"
        case let .storingFailed(_, reason): "storing the video failed (\(reason)); it is kept and will be uploaded again"
        case let .noSpaceToFinish(_, frames, reason):
            "\(reason); the recording's \(frames) frames are kept and stored when space returns"
        }
    }
}

/// Cores to two decimals, as messages give them.
private func formatCores(_ value: Double) -> String { String(format: "%.2f", value) }

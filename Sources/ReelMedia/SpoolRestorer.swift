import CFFmpeg
import Foundation

/// Makes the MP4 of a recording whose encoder stopped early (a killed process,
/// a full disk): the spool's complete fragments as they are, then the frames
/// only the journal holds, encoded again with the recording's own settings.
public enum SpoolRestorer {
    /// Writes the faststart MP4 of `spool` and its journal to `output`. Frames
    /// are counted by their times, so a frame is neither lost nor doubled.
    @discardableResult
    public static func restore(spool: String, to output: String) throws -> VideoSummary {
        let journal = JournalContents(folder: FrameJournal.folder(forSpool: spool))
        let hasSpool = FileManager.default.fileExists(atPath: spool)
        let samples = hasSpool ? try SpoolFile.cutIncompleteTail(path: spool) : 0
        guard let settings = journal.settings, let encoderSettings = settings.encoder, !journal.frames.isEmpty else {
            guard hasSpool else { throw MediaError.noFrames }
            return try MP4Remuxer.join([.init(path: spool)], to: output, samples: samples)
        }
        let codecTimeBase = AVRational(num: 1, den: encoderSettings.timeScale)
        let spoolTimes = hasSpool ? try frameTimes(in: spool, timeBase: codecTimeBase) : []
        let inSpool = Set(spoolTimes)
        let missing = journal.frames.filter { !inSpool.contains($0.pts) }
        guard !missing.isEmpty else {
            return try MP4Remuxer.join([.init(path: spool)], to: output, samples: samples)
        }
        let kept = closedPrefix(spoolTimes, missing: missing.map(\.pts))
        let lastKept = spoolTimes.prefix(kept).max() ?? Int64.min
        let tail = journal.frames.filter { $0.pts > lastKept }
        let tailSpool = output + ".tail.spool.mp4"
        defer { try? FileManager.default.removeItem(atPath: tailSpool) }
        try encode(tail, of: journal, settings: encoderSettings, fit: settings.fitMode ?? .fit, to: tailSpool)
        var parts: [MP4Remuxer.Part] = []
        if kept > 0 { parts.append(.init(path: spool, packets: kept, startPTS: 0, timeBase: codecTimeBase)) }
        parts.append(.init(path: tailSpool, startPTS: tail[0].pts, timeBase: codecTimeBase))
        return try MP4Remuxer.join(parts, to: output, samples: kept + tail.count)
    }

    /// The times of the spool's packets in decode order, in the encoder's
    /// ticks, the first frame at 0.
    static func frameTimes(in spool: String, timeBase: AVRational) throws -> [Int64] {
        let reader: PacketReader
        do { reader = try PacketReader(path: spool) } catch { return [] }
        var times: [Int64] = []
        var first: Int64?
        while try reader.next() {
            let pts = reader.packet.pointee.pts
            first = first ?? pts
            times.append(av_rescale_q(pts - first!, reader.stream.pointee.time_base, timeBase))
        }
        return times
    }

    /// How many of the spool's first packets make a whole run of frames: every
    /// one of them shows before every packet after them and every frame the
    /// spool lacks, so they play on their own and the rest can follow.
    static func closedPrefix(_ times: [Int64], missing: [Int64]) -> Int {
        var after = missing.min() ?? Int64.max
        var suffixMinimum = [Int64](repeating: Int64.max, count: times.count + 1)
        suffixMinimum[times.count] = after
        for index in stride(from: times.count - 1, through: 0, by: -1) {
            after = min(after, times[index])
            suffixMinimum[index] = after
        }
        var best = 0, latest = Int64.min
        for count in stride(from: 1, through: times.count, by: 1) {
            latest = max(latest, times[count - 1])
            if latest < suffixMinimum[count] { best = count }
        }
        return best
    }

    private static func encode(_ frames: [JournalContents.Frame], of journal: JournalContents,
                               settings: EncoderSettings, fit: FitMode, to path: String) throws {
        let decoder = FrameDecoder(outputSize: settings.size, outputRange: settings.range, fit: fit)
        let encoder = try VideoEncoder(path: path, settings: settings)
        for frame in frames {
            let picture: VideoFrame
            do {
                picture = try decoder.decode(try journal.jpeg(frame))
            } catch let error as MediaError where error.refusesOnlyTheFrame {
                continue  // it was decoded once before being answered; a damaged journal page costs that frame only
            }
            try encoder.encode(picture, pts: frame.pts)
        }
        try encoder.finish()
    }
}

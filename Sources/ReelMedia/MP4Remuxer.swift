import CFFmpeg
import Foundation

/// Copies the packets of a fragmented spool file into a faststart MP4 (moov
/// before mdat) that a browser can play from a URL with range requests. No
/// re-encode: the cost is a copy of the file, whatever its length.
public enum MP4Remuxer {
    /// Remuxes `input` to `output`, first cutting any partly written last
    /// fragment off `input` (a process killed mid-write leaves one).
    @discardableResult
    public static func faststart(from input: String, to output: String) throws -> VideoSummary {
        let samples = try SpoolFile.cutIncompleteTail(path: input)
        return try join([Part(path: input)], to: output, samples: samples)
    }

    /// A run of packets to copy: the file's first `packets` (all when nil), the
    /// first of them a keyframe that shows at `startPTS` ticks of `timeBase`.
    struct Part {
        var path: String
        var packets: Int?
        var startPTS: Int64 = 0
        var timeBase = AVRational(num: 1, den: 1)
    }

    /// Copies the parts one after another into one faststart MP4; each part's
    /// times are moved so its first frame shows at its `startPTS`. Parts must
    /// share their codec parameters (made by the same encoder settings).
    static func join(_ parts: [Part], to output: String, samples: Int) throws -> VideoSummary {
        // With room kept for the moov at the front, the muxer writes the file
        // once; without, faststart moves every byte a second time. The estimate
        // is generous (the sample tables need at most ~20 bytes a sample); if it
        // still falls short, the second pass is the fallback.
        do {
            return try remux(parts, to: output, reservedMoovBytes: 8192 + 40 * samples)
        } catch MediaError.ffmpeg(let function, let code, _) where function == "av_write_trailer" && code == CFFmpeg_AVERROR(EINVAL) {
            try? FileManager.default.removeItem(atPath: output)
            return try remux(parts, to: output, reservedMoovBytes: nil)
        }
    }

    private static func remux(_ parts: [Part], to output: String, reservedMoovBytes: Int?) throws -> VideoSummary {
        var readers: [(PacketReader, Part)] = []
        for part in parts {
            let reader = try PacketReader(path: part.path)
            // Read the first packet before creating the output, so an empty spool leaves no file behind.
            if try reader.next() { readers.append((reader, part)) }
        }
        guard let (first, _) = readers.first else { throw MediaError.noFrames }

        var writer: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&writer, nil, "mp4", output), "avformat_alloc_output_context2")
        guard let writer else { throw MediaError.noFrames }
        defer {
            avio_closep(&writer.pointee.pb)
            avformat_free_context(writer)
        }
        guard let target = avformat_new_stream(writer, nil) else {
            throw MediaError.ffmpeg(function: "avformat_new_stream", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory")
        }
        try check(avcodec_parameters_copy(target.pointee.codecpar, first.stream.pointee.codecpar), "avcodec_parameters_copy")
        target.pointee.codecpar.pointee.codec_tag = 0
        target.pointee.time_base = first.stream.pointee.time_base
        target.pointee.avg_frame_rate = first.stream.pointee.avg_frame_rate

        try check(avio_open(&writer.pointee.pb, output, AVIO_FLAG_WRITE), "avio_open")
        let options = try reservedMoovBytes.map { try FFmpegOptions(["moov_size": String($0)]) }
            ?? FFmpegOptions(["movflags": "faststart"])
        try options.pass(to: "avformat_write_header") { avformat_write_header(writer, &$0) }

        var lastDTS = Int64.min
        for (reader, part) in readers {
            // The fragmented spool shifts everything so the first dts is not negative;
            // the first packet, a keyframe, shows at the part's start again, and the
            // muxer keeps B-frame delay in an edit list.
            let packet = reader.packet
            let timeBase = reader.stream.pointee.time_base
            let shift = packet.pointee.pts - av_rescale_q(part.startPTS, part.timeBase, timeBase)
            var copied = 0
            repeat {
                packet.pointee.pts -= shift
                packet.pointee.dts -= shift
                packet.pointee.stream_index = 0
                packet.pointee.pos = -1
                av_packet_rescale_ts(packet, timeBase, target.pointee.time_base)
                // Where two parts meet, decode times must still rise.
                if packet.pointee.dts <= lastDTS {
                    packet.pointee.dts = lastDTS + 1
                    packet.pointee.pts = max(packet.pointee.pts, packet.pointee.dts)
                }
                lastDTS = packet.pointee.dts
                try check(av_interleaved_write_frame(writer, packet), "av_interleaved_write_frame")
                copied += 1
            } while try copied < (part.packets ?? Int.max) && reader.next()
        }
        try check(av_write_trailer(writer), "av_write_trailer")
        try check(avio_closep(&writer.pointee.pb), "avio_closep")
        return try probe(output)
    }

    /// Frames, duration and size of a finished MP4, as its header (moov) says.
    public static func probe(_ path: String) throws -> VideoSummary {
        let reader = try PacketReader(path: path)
        return try withExtendedLifetime(reader) {
            let stream = reader.stream.pointee
            guard stream.nb_frames > 0, stream.duration > 0, stream.time_base.den > 0 else { throw MediaError.noFrames }
            let duration = Double(stream.duration) * Double(stream.time_base.num) / Double(stream.time_base.den)
            return VideoSummary(frames: Int(stream.nb_frames), duration: duration, bytes: fileSize(path))
        }
    }

    private static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}

/// Reads the packets of a single-stream MP4, one at a time, into `packet`.
final class PacketReader {
    private var context: UnsafeMutablePointer<AVFormatContext>?
    private var allocated: UnsafeMutablePointer<AVPacket>?
    let stream: UnsafeMutablePointer<AVStream>
    let packet: UnsafeMutablePointer<AVPacket>
    private(set) var packetsRead = 0

    init(path: String) throws {
        try check(avformat_open_input(&context, path, nil, nil), "avformat_open_input")
        allocated = av_packet_alloc()
        guard let context, context.pointee.nb_streams == 1, let stream = context.pointee.streams[0],
              let packet = allocated else {
            av_packet_free(&allocated)
            avformat_close_input(&context)
            throw MediaError.noFrames
        }
        self.stream = stream
        self.packet = packet
    }

    deinit {
        av_packet_free(&allocated)
        avformat_close_input(&context)
    }

    /// Reads the next packet; false at the end of the file.
    func next() throws -> Bool {
        av_packet_unref(packet)
        let result = av_read_frame(context, packet)
        if result == averrorEOF { return false }
        try check(result, "av_read_frame")
        packetsRead += 1
        return true
    }
}

/// The fragmented MP4 a recording is written to while frames arrive.
enum SpoolFile {
    /// Truncates the file after its last complete `moof`+`mdat` pair, as a
    /// killed writer can leave a fragment half written, and returns how many
    /// samples the kept fragments hold. Reads box headers and `moof`s only.
    @discardableResult
    static func cutIncompleteTail(path: String) throws -> Int {
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw MediaError.ffmpeg(function: "open", code: CFFmpeg_AVERROR(ENOENT), message: "cannot open \(path)")
        }
        defer { try? handle.close() }
        let fileSize = try handle.seekToEnd()
        var offset: UInt64 = 0
        var keepUpTo: UInt64 = 0
        var previousType = ""
        var samples = 0, keptSamples = 0, fragmentSamples = 0
        while offset + 8 <= fileSize {
            try handle.seek(toOffset: offset)
            guard let header = try handle.read(upToCount: 16), header.count >= 8 else { break }
            let bytes = [UInt8](header)
            var size = UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            let type = String(decoding: bytes[4..<8], as: UTF8.self)
            if size == 1, bytes.count >= 16 {
                size = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            } else if size == 0 {
                size = fileSize - offset
            }
            // A size past the end (a 64-bit one near 2^64 too) is a box cut short.
            guard size >= 8, size <= fileSize - offset else { break }
            if type == "moof", size >= 16, size < 1 << 20, let rest = try handle.read(upToCount: Int(size) - bytes.count) {
                // The body starts after the 8-byte header: part of it came with the header read.
                fragmentSamples = trunSampleCount(in: Array(bytes[8...]) + [UInt8](rest))
            }
            offset += size
            // Headers (ftyp, moov) and complete fragments are worth keeping.
            if type == "mdat" && previousType == "moof" { samples += fragmentSamples }
            if type == "ftyp" || type == "moov" || (type == "mdat" && previousType == "moof") || type == "mfra" {
                keepUpTo = offset
                keptSamples = samples
            }
            previousType = type
        }
        if keepUpTo < fileSize { try handle.truncate(atOffset: keepUpTo) }
        return keptSamples
    }

    /// The samples of a `moof` body: the sum of its `traf`/`trun` sample counts.
    static func trunSampleCount(in moof: [UInt8]) -> Int {
        func children(_ bytes: ArraySlice<UInt8>) -> [(type: String, body: ArraySlice<UInt8>)] {
            var result: [(String, ArraySlice<UInt8>)] = []
            var index = bytes.startIndex
            while index + 8 <= bytes.endIndex {
                let size = bytes[index..<index + 4].reduce(0) { $0 << 8 | Int($1) }
                guard size >= 8, index + size <= bytes.endIndex else { break }
                result.append((String(decoding: bytes[index + 4..<index + 8], as: UTF8.self), bytes[index + 8..<index + size]))
                index += size
            }
            return result
        }
        var samples = 0
        for traf in children(moof[...]) where traf.type == "traf" {
            for trun in children(traf.body) where trun.type == "trun" && trun.body.count >= 8 {
                // A full box: version and flags, then the 32-bit sample count.
                let count = trun.body.dropFirst(4).prefix(4)
                samples += count.reduce(0) { $0 << 8 | Int($1) }
            }
        }
        return samples
    }
}

import CFFmpeg
import Foundation

/// What an encoded or remuxed file holds.
public struct VideoSummary: Equatable, Sendable {
    public var frames: Int
    /// Seconds of video.
    public var duration: Double
    public var bytes: Int

    public init(frames: Int, duration: Double, bytes: Int) {
        self.frames = frames
        self.duration = duration
        self.bytes = bytes
    }
}

/// Encodes pictures to H.264 with libx264 and writes them as they come into a
/// fragmented MP4 (`frag_keyframe+empty_moov`, a fragment at least every half second),
/// so that a process killed mid-recording leaves a file that plays up to its last
/// fragment. `finish()` flushes the encoder; `MP4Remuxer` then makes it faststart.
///
/// `durableFrames` says how many of the first frames are in fragments already
/// handed to the kernel: a frame journal can let go of those.
public final class VideoEncoder {
    public let settings: EncoderSettings
    public let path: String
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var muxer: UnsafeMutablePointer<AVFormatContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var lastPTS: Int64 = -1
    /// How long the latest frame lasts: one tick, or the gap between the last two timestamps.
    private var frameDuration: Int64
    private(set) public var framesEncoded = 0
    private var finished = false
    /// The times of frames sent to x264, in order, until they are durable.
    private var sentPTS: [Int64] = []
    /// Frames x264 has given back as packets: it holds its lookahead's frames before encoding them.
    private(set) public var packetsWritten = 0
    private var latestWrittenPTS = Int64.min
    /// The latest keyframe asked for, and frames sent since.
    private var latestKeyframePTS: Int64?
    private var framesSinceKeyframe = 0
    /// Frames 0..<durableFrames are in complete fragments in the file.
    private(set) public var durableFrames = 0
    /// Hears `durableFrames` each time it grows.
    public var onDurable: (Int) -> Void = { _ in }
    /// The fragments written so far, for a live view of the file.
    public let fragments = FragmentIndex()
    /// The file's bytes up to here are in `fragments` (or the init segment).
    private var indexedEnd: Int64 = 0
    /// The fragment the muxer is filling: its first packet's decode time and whether that is a keyframe.
    private var fragmentStart: (dts: Int64, keyframe: Bool)?
    /// Where the latest packet's time ends (its decode time plus its duration).
    private var latestPacketEnd: Int64 = 0

    public init(path: String, settings: EncoderSettings) throws {
        FFmpegLog.quiet()
        self.settings = settings
        self.path = path
        frameDuration = settings.ticksPerFrame
        guard let encoder = avcodec_find_encoder_by_name("libx264") else {
            throw MediaError.ffmpeg(function: "avcodec_find_encoder_by_name", code: CFFmpeg_AVERROR(ENOENT),
                                    message: "this FFmpeg has no libx264 encoder")
        }
        var muxer: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&muxer, nil, "mp4", path), "avformat_alloc_output_context2")
        self.muxer = muxer
        packet = av_packet_alloc()
        codec = avcodec_alloc_context3(encoder)
        guard let muxer, let codec, packet != nil, let stream = avformat_new_stream(muxer, nil) else {
            // deinit does not run for a partly initialised class: free here.
            av_packet_free(&packet)
            avcodec_free_context(&codec)
            avformat_free_context(muxer)
            throw MediaError.ffmpeg(function: "avformat_new_stream", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory")
        }
        self.stream = stream
        do {
            try open(codec: codec, encoder: encoder, muxer: muxer)
        } catch {
            close()
            throw error
        }
    }

    private func open(codec: UnsafeMutablePointer<AVCodecContext>, encoder: UnsafePointer<AVCodec>,
                      muxer: UnsafeMutablePointer<AVFormatContext>) throws {
        codec.pointee.width = Int32(settings.size.width)
        codec.pointee.height = Int32(settings.size.height)
        codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codec.pointee.time_base = AVRational(num: 1, den: settings.timeScale)
        codec.pointee.framerate = AVRational(num: Int32(settings.fps), den: 1)
        codec.pointee.gop_size = Int32(settings.fps * settings.keyframeInterval)
        codec.pointee.thread_count = Int32(settings.threads)
        // JPEG's matrix is BT.601; players must not assume BT.709 for HD sizes.
        codec.pointee.color_range = settings.range.avColorRange
        codec.pointee.colorspace = AVCOL_SPC_BT470BG
        if muxer.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        // sc_threshold 0: no scene-cut keyframes, which would come unannounced beside the ones asked for.
        let options = try FFmpegOptions(["preset": settings.preset, "crf": String(settings.crf), "sc_threshold": "0"])
        try options.pass(to: "avcodec_open2") { avcodec_open2(codec, encoder, &$0) }
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "avcodec_parameters_from_context")
        stream.pointee.time_base = codec.pointee.time_base
        stream.pointee.avg_frame_rate = codec.pointee.framerate

        try check(avio_open(&muxer.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
        // Push each fragment to the file as soon as the muxer closes it.
        muxer.pointee.flags |= AVFMT_FLAG_FLUSH_PACKETS
        let muxerOptions = try FFmpegOptions(["movflags": "frag_keyframe+empty_moov+default_base_moof",
                                              "frag_duration": "500000"])
        try muxerOptions.pass(to: "avformat_write_header") { avformat_write_header(muxer, &$0) }
        // The init segment (ftyp + moov, no samples) is on disk before any fragment.
        avio_flush(muxer.pointee.pb)
        try check(muxer.pointee.pb.pointee.error, "avio_flush")
        indexedEnd = avio_tell(muxer.pointee.pb)
        fragments.setInitLength(Int(indexedEnd))
    }

    deinit { close() }

    /// Frees everything; safe to call more than once.
    private func close() {
        fragments.end()
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        if let muxer {
            avio_closep(&muxer.pointee.pb)
            avformat_free_context(muxer)
            self.muxer = nil
        }
    }

    /// Encodes one picture. `pts` is in the timing's unit (milliseconds for
    /// `.timestamps`); without it the frame follows the previous one by one frame.
    /// Presentation times only ever increase: a time at or before the last one is moved after it.
    public func encode(_ picture: VideoFrame, pts: Int64? = nil) throws {
        precondition(!finished, "encode after finish")
        let next = pts.map { max($0, lastPTS + 1) } ?? (lastPTS < 0 ? 0 : lastPTS + settings.ticksPerFrame)
        if lastPTS >= 0 { frameDuration = next - lastPTS }
        lastPTS = next
        picture.frame.pointee.pts = next
        // Keyframes are placed here, not by x264 (its scene cuts are off): one every
        // fps × interval frames, as x264 would, and also every `keyframeInterval` seconds
        // of video, so a camera sending fewer frames (arrival timing) gets one that often
        // too and live segments (keyframe to keyframe) keep their length.
        let keyframeDue = latestKeyframePTS.map {
            next - $0 >= Int64(settings.keyframeInterval) * Int64(settings.timeScale)
                || framesSinceKeyframe >= settings.fps * settings.keyframeInterval
        } ?? true
        if keyframeDue {
            latestKeyframePTS = next
            framesSinceKeyframe = 0
        }
        framesSinceKeyframe += 1
        picture.frame.pointee.pict_type = keyframeDue ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        try check(avcodec_send_frame(codec, picture.frame), "avcodec_send_frame")
        sentPTS.append(next)
        framesEncoded += 1
        try writePackets()
    }

    /// Flushes the encoder and closes the fragmented file.
    @discardableResult
    public func finish() throws -> VideoSummary {
        guard !finished else { throw MediaError.ffmpeg(function: "finish", code: CFFmpeg_AVERROR(EINVAL), message: "already finished") }
        finished = true
        defer { close() }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame")
        try writePackets()
        // The last fragment on its own (the trailer then adds only its index, mfra).
        try check(av_write_frame(muxer, nil), "av_write_frame")
        noteFragment(endingAt: latestPacketEnd, fileEnd: avio_tell(muxer!.pointee.pb), next: nil)
        try check(av_write_trailer(muxer), "av_write_trailer")
        // Closing writes what is still buffered: its failure is the file's tail lost.
        try check(avio_closep(&muxer!.pointee.pb), "avio_closep")
        durableFrames = packetsWritten
        onDurable(durableFrames)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let end = lastPTS < 0 ? 0 : lastPTS + frameDuration
        return VideoSummary(frames: framesEncoded, duration: Double(end) / Double(settings.timeScale), bytes: bytes)
    }

    private func writePackets() throws {
        guard let packet else { return }
        while true {
            let result = avcodec_receive_packet(codec, packet)
            if result == averrorEAGAIN || result == averrorEOF { return }
            try check(result, "avcodec_receive_packet")
            // The muxer times every sample by the next one's dts; only the last
            // needs its own duration, which is the latest frame's.
            packet.pointee.duration = frameDuration
            packet.pointee.stream_index = stream.pointee.index
            let pts = packet.pointee.pts
            let dts = packet.pointee.dts
            let keyframe = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
            // The muxer picks its own time base in write_header: rescale to it.
            av_packet_rescale_ts(packet, codec!.pointee.time_base, stream.pointee.time_base)
            let fileEnd = avio_tell(muxer!.pointee.pb)
            let written = av_interleaved_write_frame(muxer, packet)
            av_packet_unref(packet)
            try check(written, "av_interleaved_write_frame")
            // Samples wait in memory until their fragment is written, in one go
            // and flushed (AVFMT_FLAG_FLUSH_PACKETS): the file grew, so every
            // packet before this one is on disk.
            let grown = avio_tell(muxer!.pointee.pb)
            if grown > fileEnd {
                noteDurable()
                noteFragment(endingAt: dts, fileEnd: grown, next: (dts, keyframe))
            } else if fragmentStart == nil {
                fragmentStart = (dts, keyframe)
            }
            latestPacketEnd = dts + frameDuration
            packetsWritten += 1
            latestWrittenPTS = max(latestWrittenPTS, pts)
        }
    }

    /// The file grew: the muxer wrote the fragment it was filling, which holds every
    /// packet from `fragmentStart` up to the one that began the next (`next`).
    private func noteFragment(endingAt end: Int64, fileEnd: Int64, next: (dts: Int64, keyframe: Bool)?) {
        guard fileEnd > indexedEnd, let start = fragmentStart else { return }
        let seconds = Double(end - start.dts) / Double(settings.timeScale)
        fragments.add(Fragment(offset: Int(indexedEnd), length: Int(fileEnd - indexedEnd), duration: seconds,
                               startsWithKeyframe: start.keyframe))
        indexedEnd = fileEnd
        fragmentStart = next
    }

    /// Packets come in decode order; the first n of them are the first n frames
    /// only when the latest time among them is the n-th frame's (B-frames are
    /// written after the frame they lean on).
    private func noteDurable() {
        let settled = packetsWritten - durableFrames
        guard settled > 0, settled <= sentPTS.count, latestWrittenPTS == sentPTS[settled - 1] else { return }
        sentPTS.removeFirst(settled)
        durableFrames = packetsWritten
        onDurable(durableFrames)
    }
}

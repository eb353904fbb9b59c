import CFFmpeg

extension VideoFrame {
    /// The picture shown `seconds` into an MP4, or its last one when it is
    /// shorter, decoded with libavcodec: a thumbnail's source when no decoded
    /// frame is at hand, as for a recording recovered after a crash.
    public static func picture(inMP4 path: String, at seconds: Double) throws -> VideoFrame {
        let reader = try PacketReader(path: path)
        let parameters = reader.stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw MediaError.ffmpeg(function: "avcodec_find_decoder", code: CFFmpeg_AVERROR(EINVAL),
                                    message: "no decoder for the video in \(path)")
        }
        var context = avcodec_alloc_context3(codec)
        defer { avcodec_free_context(&context) }
        guard context != nil else {
            throw MediaError.ffmpeg(function: "avcodec_alloc_context3", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory")
        }
        try check(avcodec_parameters_to_context(context, parameters), "avcodec_parameters_to_context")
        try check(avcodec_open2(context, codec, nil), "avcodec_open2")

        let timeBase = reader.stream.pointee.time_base
        let target = Int64(seconds * Double(timeBase.den) / Double(max(1, timeBase.num)))
        var latest: VideoFrame?
        var decoded = av_frame_alloc()
        defer { av_frame_free(&decoded) }
        guard decoded != nil else {
            throw MediaError.ffmpeg(function: "av_frame_alloc", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory")
        }
        // Receives what the decoder has; true once a picture at or past the target came out.
        func drain() throws -> Bool {
            while true {
                let result = avcodec_receive_frame(context, decoded)
                if result == CFFmpeg_AVERROR(EAGAIN) || result == averrorEOF { return false }
                try check(result, "avcodec_receive_frame")
                guard let picture = av_frame_alloc() else { throw MediaError.ffmpeg(function: "av_frame_alloc", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory") }
                av_frame_move_ref(picture, decoded)
                latest = VideoFrame(adopting: picture)
                if picture.pointee.best_effort_timestamp >= target { return true }
            }
        }
        while try reader.next() {
            try check(avcodec_send_packet(context, reader.packet), "avcodec_send_packet")
            if try drain() { return latest! }
        }
        try check(avcodec_send_packet(context, nil), "avcodec_send_packet")
        _ = try drain()
        guard let latest else { throw MediaError.noFrames }
        return latest
    }
}

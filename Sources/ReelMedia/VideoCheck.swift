import CFFmpeg
import Foundation

/// What a file must be to be stored as a recording: an MP4 whose video is H.264.
public enum VideoCheck {
    /// Frames, duration and size of `path` when it is an H.264 MP4; otherwise
    /// a `MediaError.file` that says what the file is instead.
    public static func h264MP4(_ path: String) throws -> VideoSummary {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw MediaError.file(path: path, message: "no such file")
        }
        guard !isFolder.boolValue else { throw MediaError.file(path: path, message: "a folder, not an MP4 file") }
        var context: UnsafeMutablePointer<AVFormatContext>?
        let opened = avformat_open_input(&context, path, nil, nil)
        guard opened >= 0, let format = context else {
            throw MediaError.file(path: path, message: "not a video file FFmpeg can read (\(ffmpegMessage(opened)))")
        }
        defer { avformat_close_input(&context) }
        let container = format.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        guard container.split(separator: ",").contains("mp4") else {
            throw MediaError.file(path: path, message: "not an MP4 file (FFmpeg reads it as \(container))")
        }
        try check(avformat_find_stream_info(format, nil), "avformat_find_stream_info")
        let streams = (0..<Int(format.pointee.nb_streams)).compactMap { format.pointee.streams[$0] }
        let videos = streams.filter { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
        guard let video = videos.first(where: { $0.pointee.codecpar.pointee.codec_id == AV_CODEC_ID_H264 }) else {
            let found = videos.first.map { String(cString: avcodec_get_name($0.pointee.codecpar.pointee.codec_id)) }
            throw MediaError.file(path: path, message: found.map { "an MP4 whose video is \($0), not H.264" }
                ?? "an MP4 without a video stream")
        }
        let stream = video.pointee
        let seconds = stream.duration > 0 && stream.time_base.den > 0
            ? Double(stream.duration) * Double(stream.time_base.num) / Double(stream.time_base.den)
            : Double(max(format.pointee.duration, 0)) / Double(AV_TIME_BASE)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return VideoSummary(frames: Int(stream.nb_frames), duration: seconds, bytes: bytes)
    }
}

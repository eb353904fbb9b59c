import CFFmpeg

/// What can go wrong between a JPEG frame and an MP4 file.
///
/// Frame errors (`empty` … `tooLarge`) refuse one frame and leave the recording
/// going; the others concern the whole file.
public enum MediaError: Error, Equatable, Sendable {
    /// The frame has no bytes at all.
    case empty
    /// The bytes do not start with a JPEG start-of-image marker.
    case notJPEG
    /// A JPEG whose header or scan data libjpeg-turbo could not read; `reason` is its message.
    case corruptJPEG(reason: String)
    /// A JPEG in a colour space or sampling that has no YUV 4:2:0 equivalent (CMYK, YCCK…).
    case unsupportedJPEG(kind: String)
    /// The frame's dimensions exceed the configured limit.
    case tooLarge(width: Int, height: Int, maxWidth: Int, maxHeight: Int)
    /// An FFmpeg call failed; `message` is `av_strerror`'s text for `code`.
    case ffmpeg(function: String, code: Int32, message: String)
    /// A recording finished (or a spool was recovered) without a single frame.
    case noFrames
    /// libjpeg-turbo could not compress a picture (a thumbnail); `reason` is its message.
    case jpegEncoding(reason: String)
    /// A frame came after the recording was finished.
    case recordingFinished
    /// A write failed because the disk holding `path` is full.
    case diskFull(path: String)
    /// A file could not be opened, read or written; `message` is the system's reason.
    case file(path: String, message: String)

    /// True for errors that concern only the frame that caused them.
    public var refusesOnlyTheFrame: Bool {
        switch self {
        case .empty, .notJPEG, .corruptJPEG, .unsupportedJPEG, .tooLarge, .recordingFinished: true
        case .ffmpeg, .noFrames, .jpegEncoding, .diskFull, .file: false
        }
    }
}

extension MediaError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .empty: "empty frame: no bytes"
        case .notJPEG: "not a JPEG: no start-of-image marker"
        case .corruptJPEG(let reason): "corrupt JPEG: \(reason)"
        case .unsupportedJPEG(let kind): "unsupported JPEG: \(kind)"
        case let .tooLarge(width, height, maxWidth, maxHeight):
            "frame too large: \(width)x\(height), limit \(maxWidth)x\(maxHeight)"
        case let .ffmpeg(function, code, message): "\(function) failed (\(code)): \(message)"
        case .noFrames: "no frames were encoded"
        case .jpegEncoding(let reason): "JPEG encoding failed: \(reason)"
        case .recordingFinished: "the recording is finished: it takes no more frames"
        case .diskFull(let path): "cannot write \(path): the disk is full"
        case let .file(path, message): "\(path): \(message)"
        }
    }
}

/// Turns a negative FFmpeg return code into a thrown `MediaError.ffmpeg`.
@discardableResult
func check(_ result: Int32, _ function: String) throws -> Int32 {
    guard result < 0 else { return result }
    throw MediaError.ffmpeg(function: function, code: result, message: ffmpegMessage(result))
}

/// True for an FFmpeg error that says the disk is full.
public func isDiskFull(_ error: Error) -> Bool {
    switch error as? MediaError {
    case .diskFull: true
    case .ffmpeg(_, let code, _): code == CFFmpeg_AVERROR(ENOSPC) || code == CFFmpeg_AVERROR(EDQUOT)
    default: false
    }
}

func ffmpegMessage(_ code: Int32) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
        av_strerror(code, buffer.baseAddress, buffer.count)
        return String(cString: buffer.baseAddress!)
    }
}

let averrorEAGAIN = CFFmpeg_AVERROR(EAGAIN)
let averrorEOF = CFFmpeg_AVERROR_EOF()

/// FFmpeg's own log lines (x264's statistics, muxer notes) would interleave
/// with ours; errors come back as return codes, so only fatal messages print.
enum FFmpegLog {
    private static let setLevel: Void = av_log_set_level(AV_LOG_FATAL)
    static func quiet() { setLevel }
}

import CFFmpeg
import Foundation

/// Width and height of a picture in pixels.
public struct FrameSize: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public static let hd720 = FrameSize(width: 1280, height: 720)

    /// Parses "1280x720".
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]),
              width > 0, height > 0 else { return nil }
        self.init(width: width, height: height)
    }

    public var description: String { "\(width)x\(height)" }
}

/// A planar picture in one owned `AVFrame`: the encoder's YUV 4:2:0 input, or a
/// JPEG's native planes (4:2:2, 4:4:4, gray…) before they are scaled.
///
/// It has one owner at a time: the decoder fills it, hands it to the encoder,
/// and the encoder gives it back to the recording's `FramePool` once x264 has copied it.
public final class VideoFrame: @unchecked Sendable {
    let frame: UnsafeMutablePointer<AVFrame>
    public let size: FrameSize
    let pixelFormat: AVPixelFormat

    init(size: FrameSize, pixelFormat: AVPixelFormat = AV_PIX_FMT_YUV420P, range: ColorRange = .full) throws {
        guard let frame = av_frame_alloc() else {
            throw MediaError.ffmpeg(function: "av_frame_alloc", code: CFFmpeg_AVERROR(ENOMEM), message: "out of memory")
        }
        self.frame = frame
        self.size = size
        self.pixelFormat = pixelFormat
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(size.width)
        frame.pointee.height = Int32(size.height)
        frame.pointee.color_range = range.avColorRange
        frame.pointee.colorspace = AVCOL_SPC_BT470BG
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
    }

    /// Takes ownership of a frame a decoder filled.
    init(adopting frame: UnsafeMutablePointer<AVFrame>) {
        self.frame = frame
        size = FrameSize(width: Int(frame.pointee.width), height: Int(frame.pointee.height))
        pixelFormat = AVPixelFormat(rawValue: frame.pointee.format)
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&frame)
    }

    /// True when nothing else (an encoder still holding its buffers) reads the samples.
    var isWritable: Bool { av_frame_is_writable(frame) > 0 }

    var planeCount: Int { pixelFormat == AV_PIX_FMT_GRAY8 ? 1 : 3 }

    func plane(_ index: Int) -> UnsafeMutablePointer<UInt8> {
        withUnsafePointer(to: frame.pointee.data) { tuple in
            tuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { $0[index]! }
        }
    }

    func stride(_ index: Int) -> Int {
        withUnsafePointer(to: frame.pointee.linesize) { tuple in
            tuple.withMemoryRebound(to: Int32.self, capacity: 8) { Int($0[index]) }
        }
    }

    /// Paints the whole picture black (Y 0 or 16 as the range says, Cb and Cr 128).
    func fillBlack() {
        let chromaHeight = (size.height + 1) / 2
        memset(plane(0), frame.pointee.color_range == AVCOL_RANGE_JPEG ? 0 : 16, stride(0) * size.height)
        memset(plane(1), 128, stride(1) * chromaHeight)
        memset(plane(2), 128, stride(2) * chromaHeight)
    }

    /// Maps full-range samples (0-255) to limited range (Y 16-235, Cb/Cr 16-240)
    /// in place, in 16-bit fixed point the compiler vectorises 16 samples at a time:
    /// round(x * 219/255) is ((t + t >> 8) >> 8) with t = x * 219 + 128 (224 for chroma).
    func compressToLimitedRange() {
        for index in 0..<3 {
            let (width, height) = index == 0 ? (size.width, size.height) : ((size.width + 1) / 2, (size.height + 1) / 2)
            let scale: UInt16 = index == 0 ? 219 : 224
            let base = plane(index), rowBytes = stride(index)
            for row in 0..<height {
                let line = base + row * rowBytes
                for column in 0..<width {
                    let t = UInt16(line[column]) &* scale &+ 128
                    line[column] = UInt8(truncatingIfNeeded: ((t &+ (t &>> 8)) &>> 8) &+ 16)
                }
            }
        }
        frame.pointee.color_range = AVCOL_RANGE_MPEG
    }

    /// The samples of one plane, row by row without padding; for tests and thumbnails.
    public func samples(plane index: Int) -> [UInt8] {
        let (width, height) = index == 0 || pixelFormat == AV_PIX_FMT_GRAY8
            ? (size.width, size.height) : ((size.width + 1) / 2, (size.height + 1) / 2)
        var result = [UInt8]()
        result.reserveCapacity(width * height)
        let base = plane(index), rowBytes = stride(index)
        for row in 0..<height {
            result.append(contentsOf: UnsafeBufferPointer(start: base + row * rowBytes, count: width))
        }
        return result
    }
}

/// The encoder's pictures handed back once encoded, so a recording does not
/// allocate and fault in 1.4 MB of fresh memory for every 720p frame.
final class FramePool: @unchecked Sendable {
    private let lock = NSLock()
    private var spare: [VideoFrame] = []
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// A picture of `size` and `range` to overwrite, recycled when one is spare.
    func picture(size: FrameSize, range: ColorRange) throws -> VideoFrame {
        let recycled = lock.withLock { spare.popLast() }
        if let recycled, recycled.size == size {
            recycled.frame.pointee.color_range = range.avColorRange
            return recycled
        }
        return try VideoFrame(size: size, range: range)
    }

    /// Takes a picture back when nobody else holds it: not the thumbnail's, not one the encoder still reads.
    func recycle(_ picture: inout VideoFrame) {
        guard isKnownUniquelyReferenced(&picture), picture.isWritable, picture.pixelFormat == AV_PIX_FMT_YUV420P else { return }
        lock.withLock { if spare.count < capacity { spare.append(picture) } }
    }
}

extension ColorRange {
    var avColorRange: AVColorRange { self == .full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG }
}

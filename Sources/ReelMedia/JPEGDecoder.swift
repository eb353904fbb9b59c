import CFFmpeg
import CTurboJPEG

/// What a JPEG header says about the picture inside.
public struct JPEGInfo: Equatable, Sendable {
    public enum Sampling: String, Sendable {
        case yuv420 = "4:2:0", yuv422 = "4:2:2", yuv444 = "4:4:4", yuv440 = "4:4:0", yuv411 = "4:1:1", gray
    }

    public var size: FrameSize
    public var sampling: Sampling

    /// The FFmpeg pixel format with the same planes as the JPEG's components.
    var pixelFormat: AVPixelFormat {
        switch sampling {
        case .yuv420: AV_PIX_FMT_YUV420P
        case .yuv422: AV_PIX_FMT_YUV422P
        case .yuv444: AV_PIX_FMT_YUV444P
        case .yuv440: AV_PIX_FMT_YUV440P
        case .yuv411: AV_PIX_FMT_YUV411P
        case .gray: AV_PIX_FMT_GRAY8
        }
    }
}

/// Decodes JPEG frames with libjpeg-turbo straight into planar YUV: a JPEG already
/// is YCbCr, so going through RGB would be wasted work.
///
/// libjpeg-turbo 2.1 leaves its handle mid-stream when a header fails to parse
/// (the next frame then reads as "two SOI markers"): after any error the handle
/// is replaced, so one bad frame never refuses the frames after it.
final class JPEGDecoder {
    private var handle: tjhandle

    init() {
        handle = Self.newHandle()
    }

    deinit { tjDestroy(handle) }

    /// tjInitDecompress fails only when malloc does.
    private static func newHandle() -> tjhandle { tjInitDecompress()! }

    /// Refuses the frame with libjpeg-turbo's message and starts the next one on a clean handle.
    private func corrupt() -> MediaError {
        let error = MediaError.corruptJPEG(reason: lastError)
        tjDestroy(handle)
        handle = Self.newHandle()
        return error
    }

    func readHeader(_ jpeg: UnsafeRawBufferPointer) throws -> JPEGInfo {
        guard !jpeg.isEmpty else { throw MediaError.empty }
        guard jpeg.count >= 2, jpeg[0] == 0xFF, jpeg[1] == 0xD8 else { throw MediaError.notJPEG }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let bytes = jpeg.bindMemory(to: UInt8.self)
        guard tjDecompressHeader3(handle, bytes.baseAddress, UInt(bytes.count),
                                  &width, &height, &subsampling, &colorspace) == 0 else {
            throw corrupt()
        }
        guard width > 0, height > 0 else {
            throw MediaError.corruptJPEG(reason: "the header gives a \(width)x\(height) picture")
        }
        switch UInt32(colorspace) {
        case TJCS_CMYK.rawValue: throw MediaError.unsupportedJPEG(kind: "CMYK colour space")
        case TJCS_YCCK.rawValue: throw MediaError.unsupportedJPEG(kind: "CMYK colour space (YCCK-coded)")
        default: break
        }
        let sampling: JPEGInfo.Sampling
        switch UInt32(subsampling) {
        case TJSAMP_420.rawValue: sampling = .yuv420
        case TJSAMP_422.rawValue: sampling = .yuv422
        case TJSAMP_444.rawValue: sampling = .yuv444
        case TJSAMP_440.rawValue: sampling = .yuv440
        case TJSAMP_411.rawValue: sampling = .yuv411
        case TJSAMP_GRAY.rawValue: sampling = .gray
        default: throw MediaError.unsupportedJPEG(kind: "chroma subsampling \(subsampling)")
        }
        return JPEGInfo(size: FrameSize(width: Int(width), height: Int(height)), sampling: sampling)
    }

    /// Decodes into `picture`, whose size and pixel format must match `info`.
    /// Any libjpeg warning (truncated data, bad Huffman code…) refuses the frame:
    /// the picture would hold grey or garbage blocks.
    func decode(_ jpeg: UnsafeRawBufferPointer, into picture: VideoFrame) throws {
        let bytes = jpeg.bindMemory(to: UInt8.self)
        var planes: [UnsafeMutablePointer<UInt8>?] = (0..<picture.planeCount).map { picture.plane($0) }
        var strides: [Int32] = (0..<picture.planeCount).map { Int32(picture.stride($0)) }
        let result = tjDecompressToYUVPlanes(handle, bytes.baseAddress, UInt(bytes.count), &planes,
                                             Int32(picture.size.width), &strides, Int32(picture.size.height),
                                             TJFLAG_STOPONWARNING)
        guard result == 0 else { throw corrupt() }
    }

    private var lastError: String { String(cString: tjGetErrorStr2(handle)) }
}

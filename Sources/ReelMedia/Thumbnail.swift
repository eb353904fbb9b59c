import CFFmpeg
import CTurboJPEG

extension VideoFrame {
    /// A small JPEG of this 4:2:0 picture, `width` pixels wide with its aspect
    /// ratio kept: the picture a list of recordings shows.
    public func jpegThumbnail(width: Int = 320, quality: Int = 80) throws -> [UInt8] {
        let thumbnailWidth = max(2, min(width, size.width) & ~1)
        let thumbnailHeight = max(2, (size.height * thumbnailWidth / size.width + 1) & ~1)
        let small = try VideoFrame(size: FrameSize(width: thumbnailWidth, height: thumbnailHeight))
        try scaleToFullRange(into: small)
        return try small.compressJPEG(quality: quality)
    }

    /// Area-averaged downscale; JPEG wants full range whatever range the encoder used.
    private func scaleToFullRange(into output: VideoFrame) throws {
        guard let context = sws_getContext(
            Int32(size.width), Int32(size.height), pixelFormat,
            Int32(output.size.width), Int32(output.size.height), AV_PIX_FMT_YUV420P,
            SWS_AREA, nil, nil, nil)
        else {
            throw MediaError.ffmpeg(function: "sws_getContext", code: CFFmpeg_AVERROR(EINVAL),
                                    message: "cannot scale \(size) to \(output.size)")
        }
        defer { sws_freeContext(context) }
        let coefficients = sws_getCoefficients(SWS_CS_ITU601)
        sws_setColorspaceDetails(context, coefficients, frame.pointee.color_range == AVCOL_RANGE_JPEG ? 1 : 0,
                                 coefficients, 1, 0, 1 << 16, 1 << 16)
        let sourcePlanes: [UnsafePointer<UInt8>?] = (0..<4).map { $0 < planeCount ? UnsafePointer(plane($0)) : nil }
        let sourceStrides: [Int32] = (0..<4).map { $0 < planeCount ? Int32(stride($0)) : 0 }
        let outputPlanes: [UnsafeMutablePointer<UInt8>?] = (0..<4).map { $0 < 3 ? output.plane($0) : nil }
        let outputStrides: [Int32] = (0..<4).map { $0 < 3 ? Int32(output.stride($0)) : 0 }
        _ = try check(sws_scale(context, sourcePlanes, sourceStrides, 0, Int32(size.height), outputPlanes, outputStrides),
                      "sws_scale")
    }

    /// Compresses a full-range 4:2:0 picture straight from its planes.
    private func compressJPEG(quality: Int) throws -> [UInt8] {
        // tjInitCompress fails only when malloc does.
        let handle = tjInitCompress()!
        defer { tjDestroy(handle) }
        var planes: [UnsafePointer<UInt8>?] = (0..<3).map { UnsafePointer(plane($0)) }
        var strides: [Int32] = (0..<3).map { Int32(stride($0)) }
        var output: UnsafeMutablePointer<UInt8>?
        var outputSize: UInt = 0
        defer { tjFree(output) }
        let result = tjCompressFromYUVPlanes(handle, &planes, Int32(size.width), &strides, Int32(size.height),
                                             Int32(TJSAMP_420.rawValue), &output, &outputSize,
                                             Int32(min(100, max(1, quality))), 0)
        guard result == 0, let output else {
            throw MediaError.jpegEncoding(reason: String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(outputSize)))
    }
}

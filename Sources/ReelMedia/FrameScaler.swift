import CFFmpeg

/// How a frame of another shape fills the output picture.
public enum FitMode: String, CaseIterable, Sendable {
    /// Whole frame visible, black bars where the aspect ratios differ.
    case fit
    /// Picture covered, the frame's overflowing edges cropped.
    case fill
    /// Frame stretched to the output size, aspect ratio ignored.
    case stretch
}

/// A rectangle in pixels.
public struct PixelRect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

/// Where a source frame goes in the output: which part of it is read and which
/// part of the output it covers. Offsets are even so 4:2:0 chroma lines up.
public struct Placement: Equatable, Sendable {
    public var source: PixelRect
    public var destination: PixelRect

    public init(from source: FrameSize, to output: FrameSize, mode: FitMode) {
        let whole = PixelRect(x: 0, y: 0, width: source.width, height: source.height)
        let canvas = PixelRect(x: 0, y: 0, width: output.width, height: output.height)
        // Compare aspect ratios without division: source wider than output?
        let sourceIsWider = source.width * output.height > output.width * source.height
        switch mode {
        case .stretch:
            self.source = whole
            self.destination = canvas
        case .fit:
            self.source = whole
            var rect = canvas
            if sourceIsWider {
                rect.height = evenDown(min(output.height, output.width * source.height / source.width))
                rect.y = evenDown((output.height - rect.height) / 2)
            } else {
                rect.width = evenDown(min(output.width, output.height * source.width / source.height))
                rect.x = evenDown((output.width - rect.width) / 2)
            }
            rect.width = max(rect.width, 2)
            rect.height = max(rect.height, 2)
            self.destination = rect
        case .fill:
            self.destination = canvas
            var rect = whole
            if sourceIsWider {
                rect.width = max(min(source.width, source.height * output.width / output.height), 1)
                rect.x = evenDown((source.width - rect.width) / 2)
            } else {
                rect.height = max(min(source.height, source.width * output.height / output.width), 1)
                rect.y = evenDown((source.height - rect.height) / 2)
            }
            self.source = rect
        }
    }

    /// True when the destination leaves borders to paint black.
    var leavesBorders: Bool {
        destination.x > 0 || destination.y > 0
    }
}

private func evenDown(_ value: Int) -> Int { value & ~1 }

/// Converts a picture of any sampling, size and range (a decoded JPEG, or a
/// video frame for a thumbnail) to a YUV 4:2:0 picture in the output's range
/// with libswscale.
final class FrameScaler {
    private struct Key: Equatable {
        var source: PixelRect, sourceFormat: AVPixelFormat, sourceIsFullRange: Bool, destination: PixelRect
    }

    private var context: OpaquePointer?
    private var key: Key?
    let mode: FitMode
    let outputRange: ColorRange
    /// libswscale's filter: bicubic for frames, area averaging for large reductions.
    let filter: Int32

    init(mode: FitMode, outputRange: ColorRange, filter: Int32 = SWS_BICUBIC) {
        self.mode = mode
        self.outputRange = outputRange
        self.filter = filter
    }

    deinit { sws_freeContext(context) }

    func scale(_ picture: VideoFrame, into output: VideoFrame) throws {
        let placement = Placement(from: picture.size, to: output.size, mode: mode)
        let context = try context(for: Key(source: placement.source, sourceFormat: picture.pixelFormat,
                                           sourceIsFullRange: picture.frame.pointee.color_range == AVCOL_RANGE_JPEG,
                                           destination: placement.destination))
        if placement.leavesBorders { output.fillBlack() }

        let (chromaShiftX, chromaShiftY) = chromaShift(picture.pixelFormat)
        var sourcePlanes = [UnsafePointer<UInt8>?](repeating: nil, count: 4)
        var sourceStrides = [Int32](repeating: 0, count: 4)
        for index in 0..<picture.planeCount {
            let (shiftX, shiftY) = index == 0 ? (0, 0) : (chromaShiftX, chromaShiftY)
            let offset = (placement.source.y >> shiftY) * picture.stride(index) + (placement.source.x >> shiftX)
            sourcePlanes[index] = UnsafePointer(picture.plane(index) + offset)
            sourceStrides[index] = Int32(picture.stride(index))
        }
        var outputPlanes = [UnsafeMutablePointer<UInt8>?](repeating: nil, count: 4)
        var outputStrides = [Int32](repeating: 0, count: 4)
        for index in 0..<3 {
            let shift = index == 0 ? 0 : 1
            let rect = placement.destination
            outputPlanes[index] = output.plane(index) + (rect.y >> shift) * output.stride(index) + (rect.x >> shift)
            outputStrides[index] = Int32(output.stride(index))
        }
        let rows = sws_scale(context, sourcePlanes, sourceStrides, 0, Int32(placement.source.height),
                             outputPlanes, outputStrides)
        try check(rows, "sws_scale")
    }

    private func context(for wanted: Key) throws -> OpaquePointer {
        if let context, key == wanted { return context }
        sws_freeContext(context)
        context = nil
        guard let created = sws_getContext(
            Int32(wanted.source.width), Int32(wanted.source.height), wanted.sourceFormat,
            Int32(wanted.destination.width), Int32(wanted.destination.height), AV_PIX_FMT_YUV420P,
            filter, nil, nil, nil)
        else {
            throw MediaError.ffmpeg(function: "sws_getContext", code: CFFmpeg_AVERROR(EINVAL),
                                    message: "cannot scale \(wanted.source.width)x\(wanted.source.height)")
        }
        // JPEG is full range, a video frame usually limited; the output is what the caller asked for.
        let coefficients = sws_getCoefficients(SWS_CS_ITU601)
        sws_setColorspaceDetails(created, coefficients, wanted.sourceIsFullRange ? 1 : 0, coefficients,
                                 outputRange == .full ? 1 : 0, 0, 1 << 16, 1 << 16)
        context = created
        key = wanted
        return created
    }

    private func chromaShift(_ format: AVPixelFormat) -> (Int, Int) {
        guard let descriptor = av_pix_fmt_desc_get(format) else { return (0, 0) }
        return (Int(descriptor.pointee.log2_chroma_w), Int(descriptor.pointee.log2_chroma_h))
    }
}

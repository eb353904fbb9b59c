/// Turns JPEG bytes into the encoder's picture: YUV 4:2:0 at the output size.
///
/// A 4:2:0 JPEG of the output size decodes straight into the encoder's picture;
/// anything else decodes into its native planes and is scaled and resampled.
public final class FrameDecoder {
    public let outputSize: FrameSize
    public let outputRange: ColorRange
    public let maxSize: FrameSize
    private let jpeg = JPEGDecoder()
    private let scaler: FrameScaler
    private var nativePicture: VideoFrame?
    /// Where output pictures come from: recycled ones once the encoder is done with them.
    let pool: FramePool

    public init(outputSize: FrameSize = .hd720, outputRange: ColorRange = .limited, fit: FitMode = .fit,
                maxSize: FrameSize = FrameSize(width: 7680, height: 4320), spare: Int = 0) {
        pool = FramePool(capacity: spare)
        self.outputSize = outputSize
        self.outputRange = outputRange
        self.maxSize = maxSize
        self.scaler = FrameScaler(mode: fit, outputRange: outputRange)
    }

    /// Reads only the header: size and sampling, or the error the frame would give.
    public func inspect(_ bytes: UnsafeRawBufferPointer) throws -> JPEGInfo {
        let info = try jpeg.readHeader(bytes)
        guard info.size.width <= maxSize.width, info.size.height <= maxSize.height else {
            throw MediaError.tooLarge(width: info.size.width, height: info.size.height,
                                      maxWidth: maxSize.width, maxHeight: maxSize.height)
        }
        return info
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> VideoFrame {
        let info = try inspect(bytes)
        let output = try pool.picture(size: outputSize, range: outputRange)
        if info.size == outputSize, info.sampling == .yuv420 {
            try jpeg.decode(bytes, into: output)
            if outputRange == .limited { output.compressToLimitedRange() }
            return output
        }
        let native = try nativePicture(for: info)
        try jpeg.decode(bytes, into: native)
        try scaler.scale(native, into: output)
        return output
    }

    public func decode(_ bytes: [UInt8]) throws -> VideoFrame {
        try bytes.withUnsafeBytes { try decode($0) }
    }

    /// The scratch picture for frames that need scaling, kept while frames keep their shape.
    private func nativePicture(for info: JPEGInfo) throws -> VideoFrame {
        if let nativePicture, nativePicture.size == info.size, nativePicture.pixelFormat == info.pixelFormat {
            return nativePicture
        }
        let picture = try VideoFrame(size: info.size, pixelFormat: info.pixelFormat)
        nativePicture = picture
        return picture
    }
}

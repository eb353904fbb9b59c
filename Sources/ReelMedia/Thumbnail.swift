import CFFmpeg

extension VideoFrame {
    /// A small JPEG of this picture, `width` pixels wide with its aspect ratio
    /// kept: the picture a list of recordings shows.
    public func jpegThumbnail(width: Int = 320, quality: Int = 80) throws -> [UInt8] {
        let thumbnailWidth = max(2, min(width, size.width) & ~1)
        let thumbnailHeight = max(2, (size.height * thumbnailWidth / size.width + 1) & ~1)
        // JPEG is full range, whatever range the encoder used.
        let small = try VideoFrame(size: FrameSize(width: thumbnailWidth, height: thumbnailHeight), range: .full)
        try FrameScaler(mode: .stretch, outputRange: .full, filter: SWS_AREA).scale(self, into: small)
        return try JPEGEncoder(quality: quality).compress(planes: (0..<3).map { UnsafePointer(small.plane($0)) },
                                                          strides: (0..<3).map { small.stride($0) },
                                                          width: thumbnailWidth, height: thumbnailHeight, sampling: .yuv420)
    }
}

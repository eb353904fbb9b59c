import CFFmpeg

extension VideoFrame {
    /// A small JPEG of this picture, `width` pixels wide with its aspect ratio
    /// kept: the picture a list of recordings shows.
    public func jpegThumbnail(width: Int = 320, quality: Int = 80) throws -> [UInt8] {
        let small = try reduced(toWidth: width)
        return try JPEGEncoder(quality: quality).compress(planes: (0..<3).map { UnsafePointer(small.plane($0)) },
                                                          strides: (0..<3).map { small.stride($0) },
                                                          width: small.size.width, height: small.size.height, sampling: .yuv420)
    }

    /// A copy at most `width` pixels wide, aspect ratio kept, in JPEG's full range.
    func reduced(toWidth width: Int) throws -> VideoFrame {
        let smallWidth = max(2, min(width, size.width) & ~1)
        let smallHeight = max(2, (size.height * smallWidth / size.width + 1) & ~1)
        let small = try VideoFrame(size: FrameSize(width: smallWidth, height: smallHeight), range: .full)
        try FrameScaler(mode: .stretch, outputRange: .full, filter: SWS_AREA).scale(self, into: small)
        return small
    }
}

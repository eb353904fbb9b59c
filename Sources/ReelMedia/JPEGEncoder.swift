import CTurboJPEG

/// Compresses planar YUV straight to JPEG with libjpeg-turbo, with no RGB round
/// trip: thumbnails of recordings, and camera frames that arrive raw. The output
/// buffer is allocated once for the largest picture seen and reused.
public final class JPEGEncoder {
    public enum Sampling: Sendable {
        case yuv420, yuv422

        var turboJPEG: Int32 { Int32(self == .yuv420 ? TJSAMP_420.rawValue : TJSAMP_422.rawValue) }
    }

    public let quality: Int
    private let handle: tjhandle
    private var buffer: UnsafeMutablePointer<UInt8>?
    private var capacity: UInt = 0

    public init(quality: Int = 85) {
        self.quality = min(100, max(1, quality))
        // tjInitCompress fails only when malloc does.
        handle = tjInitCompress()!
    }

    deinit {
        tjFree(buffer)
        tjDestroy(handle)
    }

    /// Compresses the Y, Cb and Cr planes (each with its row stride in bytes) of a
    /// `width` x `height` picture.
    public func compress(planes: [UnsafePointer<UInt8>], strides: [Int], width: Int, height: Int,
                         sampling: Sampling) throws -> [UInt8] {
        let needed = tjBufSize(Int32(width), Int32(height), sampling.turboJPEG)
        if needed > capacity {
            tjFree(buffer)
            buffer = tjAlloc(Int32(needed))
            capacity = buffer == nil ? 0 : needed
            guard buffer != nil else { throw MediaError.jpegEncoding(reason: "out of memory for a \(needed)-byte JPEG") }
        }
        var planePointers: [UnsafePointer<UInt8>?] = planes
        var rowStrides = strides.map { Int32($0) }
        var destination = buffer
        var size = capacity
        let result = tjCompressFromYUVPlanes(handle, &planePointers, Int32(width), &rowStrides, Int32(height),
                                             sampling.turboJPEG, &destination, &size, Int32(quality), TJFLAG_NOREALLOC)
        guard result == 0, let destination else {
            throw MediaError.jpegEncoding(reason: String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: destination, count: Int(size)))
    }
}

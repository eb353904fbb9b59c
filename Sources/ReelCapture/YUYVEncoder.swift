import ReelMedia

/// JPEG-codes raw YUYV (YUV 4:2:2, packed) camera frames with libjpeg-turbo:
/// the packed samples are split into Y, Cb and Cr planes and compressed from
/// there, with no RGB round trip.
public final class YUYVEncoder {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { "JPEG encoding failed: \(message)" }
    }

    public let width: Int
    public let height: Int
    public var quality: Int { jpeg.quality }
    private let jpeg: JPEGEncoder
    private var luma: [UInt8]
    private var blue: [UInt8]
    private var red: [UInt8]

    public init(width: Int, height: Int, quality: Int = 85) throws {
        guard width > 0, height > 0, width.isMultiple(of: 2) else {
            throw Failure(message: "YUYV needs an even width, got \(width)x\(height)")
        }
        self.width = width
        self.height = height
        jpeg = JPEGEncoder(quality: quality)
        luma = [UInt8](repeating: 0, count: width * height)
        blue = [UInt8](repeating: 0, count: width / 2 * height)
        red = [UInt8](repeating: 0, count: width / 2 * height)
    }

    /// Encodes one frame; `stride` is the bytes per line the driver reported (`bytesperline`).
    public func encode(_ yuyv: UnsafeRawBufferPointer, stride: Int? = nil) throws -> [UInt8] {
        let lineBytes = stride ?? width * 2
        guard lineBytes >= width * 2, yuyv.count >= lineBytes * (height - 1) + width * 2 else {
            throw Failure(message: "a \(width)x\(height) YUYV frame needs \(lineBytes * height) bytes, got \(yuyv.count)")
        }
        deinterleave(yuyv, lineBytes: lineBytes)
        do {
            return try luma.withUnsafeBufferPointer { y in
                try blue.withUnsafeBufferPointer { u in
                    try red.withUnsafeBufferPointer { v in
                        try jpeg.compress(planes: [y.baseAddress!, u.baseAddress!, v.baseAddress!],
                                          strides: [width, width / 2, width / 2], width: width, height: height,
                                          sampling: .yuv422)
                    }
                }
            }
        } catch MediaError.jpegEncoding(let reason) {
            throw Failure(message: reason)
        }
    }

    /// Y0 U Y1 V, Y2 U Y3 V… into three planes.
    private func deinterleave(_ yuyv: UnsafeRawBufferPointer, lineBytes: Int) {
        let source = yuyv.bindMemory(to: UInt8.self)
        let halfWidth = width / 2
        luma.withUnsafeMutableBufferPointer { y in
            blue.withUnsafeMutableBufferPointer { u in
                red.withUnsafeMutableBufferPointer { v in
                    for row in 0..<height {
                        let line = source.baseAddress! + row * lineBytes
                        let yRow = y.baseAddress! + row * width, uRow = u.baseAddress! + row * halfWidth
                        let vRow = v.baseAddress! + row * halfWidth
                        for pair in 0..<halfWidth {
                            let pixel = line + pair * 4
                            yRow[pair * 2] = pixel[0]
                            uRow[pair] = pixel[1]
                            yRow[pair * 2 + 1] = pixel[2]
                            vRow[pair] = pixel[3]
                        }
                    }
                }
            }
        }
    }
}

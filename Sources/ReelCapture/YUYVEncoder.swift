import CTurboJPEG

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
    public let quality: Int
    private let handle: tjhandle
    private var luma: [UInt8]
    private var blue: [UInt8]
    private var red: [UInt8]
    /// libjpeg-turbo's worst case for this size, allocated once.
    private let output: UnsafeMutablePointer<UInt8>
    private let outputCapacity: UInt

    public init(width: Int, height: Int, quality: Int = 85) throws {
        guard width > 0, height > 0, width.isMultiple(of: 2) else {
            throw Failure(message: "YUYV needs an even width, got \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.quality = min(100, max(1, quality))
        // tjInitCompress fails only when malloc does.
        handle = tjInitCompress()!
        luma = [UInt8](repeating: 0, count: width * height)
        blue = [UInt8](repeating: 0, count: width / 2 * height)
        red = [UInt8](repeating: 0, count: width / 2 * height)
        outputCapacity = tjBufSize(Int32(width), Int32(height), Int32(TJSAMP_422.rawValue))
        output = tjAlloc(Int32(outputCapacity))
    }

    deinit {
        tjFree(output)
        tjDestroy(handle)
    }

    /// Encodes one frame; `stride` is the bytes per line the driver reported (`bytesperline`).
    public func encode(_ yuyv: UnsafeRawBufferPointer, stride: Int? = nil) throws -> [UInt8] {
        let lineBytes = stride ?? width * 2
        guard lineBytes >= width * 2, yuyv.count >= lineBytes * (height - 1) + width * 2 else {
            throw Failure(message: "a \(width)x\(height) YUYV frame needs \(lineBytes * height) bytes, got \(yuyv.count)")
        }
        deinterleave(yuyv, lineBytes: lineBytes)
        var size = outputCapacity
        var destination: UnsafeMutablePointer<UInt8>? = output
        let result = luma.withUnsafeBufferPointer { y in
            blue.withUnsafeBufferPointer { u in
                red.withUnsafeBufferPointer { v in
                    var planes: [UnsafePointer<UInt8>?] = [y.baseAddress, u.baseAddress, v.baseAddress]
                    var strides: [Int32] = [Int32(width), Int32(width / 2), Int32(width / 2)]
                    return tjCompressFromYUVPlanes(handle, &planes, Int32(width), &strides, Int32(height),
                                                   Int32(TJSAMP_422.rawValue), &destination, &size,
                                                   Int32(quality), TJFLAG_NOREALLOC)
                }
            }
        }
        guard result == 0 else { throw Failure(message: String(cString: tjGetErrorStr2(handle))) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
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

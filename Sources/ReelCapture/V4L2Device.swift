import CV4L2
import Foundation

/// A V4L2 video device opened through libv4l2, owning its file descriptor.
public final class V4L2Device {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var code: Int32
        public var description: String { "\(operation): \(String(cString: strerror(code)))" }
    }

    public struct Capabilities: Sendable {
        public var driver: String
        public var card: String
        public var busInfo: String
        public var canCapture: Bool
        public var canStream: Bool
    }

    public struct FrameSize: Sendable, Hashable {
        public var width: Int
        public var height: Int
        /// Frame rates the device offers at this size, highest first.
        public var framesPerSecond: [Double]
    }

    public struct Format: Sendable {
        /// The four-character code, e.g. "YUYV" or "MJPG".
        public var fourCC: String
        public var description: String
        public var sizes: [FrameSize]
    }

    public let path: String
    let descriptor: Int32
    var buffers: [UnsafeMutableRawBufferPointer] = []
    var streaming = false

    public init(path: String) throws {
        self.path = path
        let opened = CV4L2_open(path, O_RDWR | O_CLOEXEC)
        guard opened >= 0 else { throw Failure(operation: "open \(path)", code: errno) }
        descriptor = opened
    }

    deinit {
        stopStreaming()
        v4l2_close(descriptor)
    }

    /// The paths of /dev/video* nodes, in number order.
    public static func nodes() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return names.filter { $0.hasPrefix("video") }.sorted {
            (Int($0.dropFirst(5)) ?? 0) < (Int($1.dropFirst(5)) ?? 0)
        }.map { "/dev/" + $0 }
    }

    public func capabilities() throws -> Capabilities {
        var capability = v4l2_capability()
        try control(CV4L2_VIDIOC_QUERYCAP(), &capability, "VIDIOC_QUERYCAP")
        // Node capabilities when the driver gives them, else the whole device's.
        let caps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        return Capabilities(
            driver: text(capability.driver), card: text(capability.card), busInfo: text(capability.bus_info),
            canCapture: caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0, canStream: caps & UInt32(V4L2_CAP_STREAMING) != 0)
    }

    /// Every capture format with its frame sizes and rates.
    public func formats() throws -> [Format] {
        var formats: [Format] = []
        var description = v4l2_fmtdesc()
        description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        while try enumerate(CV4L2_VIDIOC_ENUM_FMT(), &description, "VIDIOC_ENUM_FMT") {
            formats.append(Format(fourCC: fourCC(description.pixelformat), description: text(description.description),
                                  sizes: try sizes(of: description.pixelformat)))
            description.index += 1
        }
        return formats
    }

    private func sizes(of pixelFormat: UInt32) throws -> [FrameSize] {
        var sizes: [FrameSize] = []
        var size = v4l2_frmsizeenum()
        size.pixel_format = pixelFormat
        while try enumerate(CV4L2_VIDIOC_ENUM_FRAMESIZES(), &size, "VIDIOC_ENUM_FRAMESIZES") {
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                let width = Int(size.discrete.width), height = Int(size.discrete.height)
                sizes.append(FrameSize(width: width, height: height,
                                       framesPerSecond: try rates(pixelFormat, width, height)))
            } else {
                // Stepwise or continuous: the largest size stands for the range.
                let width = Int(size.stepwise.max_width), height = Int(size.stepwise.max_height)
                sizes.append(FrameSize(width: width, height: height, framesPerSecond: try rates(pixelFormat, width, height)))
                break
            }
            size.index += 1
        }
        return sizes
    }

    private func rates(_ pixelFormat: UInt32, _ width: Int, _ height: Int) throws -> [Double] {
        var rates: [Double] = []
        var interval = v4l2_frmivalenum()
        interval.pixel_format = pixelFormat
        interval.width = UInt32(width)
        interval.height = UInt32(height)
        while try enumerate(CV4L2_VIDIOC_ENUM_FRAMEINTERVALS(), &interval, "VIDIOC_ENUM_FRAMEINTERVALS") {
            // A frame interval is seconds per frame: fps is its inverse.
            let fraction = interval.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue ? interval.discrete : interval.stepwise.min
            if fraction.numerator > 0 { rates.append(Double(fraction.denominator) / Double(fraction.numerator)) }
            if interval.type != V4L2_FRMIVAL_TYPE_DISCRETE.rawValue { break }
            interval.index += 1
        }
        return rates.sorted(by: >)
    }

    /// Every ioctl goes through here: retried when a signal interrupts it.
    /// One step of an enumeration ioctl: false at its end (EINVAL, as V4L2
    /// signals it); any other failure is an error, not a shorter list.
    func enumerate<Argument>(_ request: UInt, _ argument: inout Argument, _ name: String) throws -> Bool {
        do {
            try control(request, &argument, name)
            return true
        } catch let failure as Failure where failure.code == EINVAL {
            return false
        }
    }

    func control<Argument>(_ request: UInt, _ argument: inout Argument, _ name: String) throws {
        while true {
            if CV4L2_ioctl(descriptor, request, &argument) >= 0 { return }
            if errno != EINTR { throw Failure(operation: name, code: errno) }
        }
    }
}

/// "YUYV" from V4L2's little-endian four-character code.
func fourCC(_ code: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: code >> ($0 * 8)) }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
}

/// A fixed-size C character array (driver names) as a String.
private func text<Tuple>(_ tuple: Tuple) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

import Foundation
import ReelMedia

/// Where captured JPEG frames come from.
public protocol FrameSource: AnyObject {
    /// The next JPEG frame; nil when none came in time (a camera) or none is left (a folder).
    func nextFrame() throws -> [UInt8]?
    /// Frames the source threw away as broken.
    var brokenFrames: Int { get }
    /// Nominal frames per second (a folder and a pattern are paced to it).
    var framesPerSecond: Int { get }
}

/// A V4L2 camera: MJPEG passed through as the camera made it (checked, Huffman
/// tables added), YUYV JPEG-coded from its planes.
public final class CameraSource: FrameSource {
    public enum Preference: String, CaseIterable, Sendable { case auto, mjpeg, yuyv }

    public let device: V4L2Device
    public let format: V4L2Device.CaptureFormat
    public let framesPerSecond: Int
    public private(set) var brokenFrames = 0
    private let encoder: YUYVEncoder?

    public init(path: String, width: Int, height: Int, framesPerSecond: Int, preference: Preference, quality: Int) throws {
        device = try V4L2Device(path: path)
        let capabilities = try device.capabilities()
        guard capabilities.canCapture, capabilities.canStream else {
            throw V4L2Device.Failure(operation: "\(path) (\(capabilities.card)) cannot stream video", code: ENODEV)
        }
        let offered = Set(try device.formats().map(\.fourCC))
        let wanted: UInt32 = switch preference {
        case .mjpeg: V4L2Device.mjpeg
        case .yuyv: V4L2Device.yuyv
        case .auto: offered.contains("MJPG") ? V4L2Device.mjpeg : V4L2Device.yuyv
        }
        format = try device.setFormat(width: width, height: height, pixelFormat: wanted)
        // The driver may have given something else: only MJPEG and YUYV are used.
        switch format.fourCC {
        case "MJPG": encoder = nil
        case "YUYV": encoder = try YUYVEncoder(width: format.width, height: format.height, quality: quality)
        default:
            throw V4L2Device.Failure(operation: "\(path) gave \(format.fourCC) instead of MJPEG or YUYV", code: EINVAL)
        }
        let rate = (try? device.setFrameRate(framesPerSecond)) ?? 0
        self.framesPerSecond = rate > 0 ? Int(rate.rounded()) : framesPerSecond
        try device.startStreaming()
    }

    public func nextFrame() throws -> [UInt8]? {
        let frame: [UInt8]?? = try device.nextFrame { bytes -> [UInt8]? in
            if let encoder { return try encoder.encode(bytes, stride: format.bytesPerLine) }
            do throws(CameraJPEG.Problem) {
                try CameraJPEG.check(bytes)
            } catch {
                return nil
            }
            return CameraJPEG.withHuffmanTables([UInt8](bytes))
        }
        switch frame {
        case .none: return nil  // no frame in time
        case .some(.none):
            brokenFrames += 1
            return try nextFrame()
        case .some(.some(let jpeg)): return jpeg
        }
    }
}

/// JPEG files from a folder, sorted by name, once.
public final class FolderSource: FrameSource {
    private let files: [String]
    private var index = 0
    public let framesPerSecond: Int
    public private(set) var brokenFrames = 0

    public init(folder: String, framesPerSecond: Int) throws {
        files = try Transcoder.frameFiles(in: [folder])
        guard !files.isEmpty else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: folder]) }
        self.framesPerSecond = framesPerSecond
    }

    public func nextFrame() throws -> [UInt8]? {
        while index < files.count {
            defer { index += 1 }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: files[index])))
            let usable = bytes.withUnsafeBytes { frame -> Bool in
                do throws(CameraJPEG.Problem) { try CameraJPEG.check(frame); return true } catch { return false }
            }
            if usable { return bytes }
            brokenFrames += 1
        }
        return nil
    }
}

/// A moving test pattern for machines with no camera: a gradient, a bar that
/// crosses the picture, and per-frame noise, JPEG-coded like a YUYV camera's frames.
public final class PatternSource: FrameSource {
    public let framesPerSecond: Int
    public let brokenFrames = 0
    private let width: Int, height: Int
    private let encoder: YUYVEncoder
    private var frame: [UInt8]
    private var count = 0
    private var noise: UInt32 = 0x2545_F491

    public init(width: Int, height: Int, framesPerSecond: Int, quality: Int) throws {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        encoder = try YUYVEncoder(width: width, height: height, quality: quality)
        frame = [UInt8](repeating: 0, count: width * height * 2)
    }

    public func nextFrame() throws -> [UInt8]? {
        let bar = (count * 8) % width
        for row in 0..<height {
            for pair in 0..<(width / 2) {
                noise ^= noise << 13; noise ^= noise >> 17; noise ^= noise << 5
                let x = pair * 2, offset = (row * width + x) * 2
                let base = (x * 200 / width + row * 40 / height) & 0xFF
                let onBar = abs(x - bar) < 24
                frame[offset] = UInt8(clamping: (onBar ? 235 : base) + Int(noise & 15))
                frame[offset + 1] = UInt8((row * 255 / height) & 0xFF)
                frame[offset + 2] = UInt8(clamping: (onBar ? 235 : base) + Int((noise >> 4) & 15))
                frame[offset + 3] = UInt8((x * 255 / width) & 0xFF)
            }
        }
        count += 1
        return try frame.withUnsafeBytes { try encoder.encode($0) }
    }
}

import Foundation
import ReelMedia

/// The committed test media, at the package root.
public enum Fixtures {
    public static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    public static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    public static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    public static let hd720Frames = (1...3).map { "frame-1280x720-420-\($0).jpg" }
}

/// A fresh folder per test, removed when the test ends.
public final class ScratchFolder: Sendable {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "reel-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }
}

public struct CommandResult {
    public var status: Int32
    public var output: Data
    public var errors: String
    public var text: String { String(decoding: output, as: UTF8.self) }
}

/// Runs a program, by path or found on PATH, and collects what it prints
/// (through files, so a program that prints a lot never blocks on a full pipe).
/// Waits for its exit without holding a thread of Swift's pool.
@discardableResult
public func run(_ program: String, _ arguments: [String]) async throws -> CommandResult {
    let capture = NSTemporaryDirectory() + "reel-run-" + UUID().uuidString
    let outputPath = capture + ".out", errorPath = capture + ".err"
    defer {
        try? FileManager.default.removeItem(atPath: outputPath)
        try? FileManager.default.removeItem(atPath: errorPath)
    }
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    let process = Process()
    if program.contains("/") {
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
    }
    process.standardOutput = FileHandle(forWritingAtPath: outputPath)
    process.standardError = FileHandle(forWritingAtPath: errorPath)
    try await runToExit(process)
    return CommandResult(status: process.terminationStatus,
                         output: try Data(contentsOf: URL(fileURLWithPath: outputPath)),
                         errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
}

/// Starts `process` and returns when it has exited: its termination handler
/// resumes the caller, so no thread waits meanwhile.
public func runToExit(_ process: Process) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// What ffprobe says about a file's video stream, counting frames by decoding.
public struct Probe {
    public var codec: String
    public var pixelFormat: String
    public var width: Int
    public var height: Int
    public var frames: Int
    public var duration: Double
    public var colorRange: String
    /// Top-level MP4 boxes in file order.
    public var boxes: [String]

    public init(_ path: String) async throws {
        let result = try await run("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                         "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,duration,color_range",
                                         "-of", "default=noprint_wrappers=1", path])
        guard result.status == 0 else { throw ProbeError(message: result.errors) }
        var fields: [String: String] = [:]
        for line in result.text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        codec = fields["codec_name"] ?? ""
        pixelFormat = fields["pix_fmt"] ?? ""
        width = Int(fields["width"] ?? "") ?? 0
        height = Int(fields["height"] ?? "") ?? 0
        frames = Int(fields["nb_read_frames"] ?? "") ?? 0
        duration = Double(fields["duration"] ?? "") ?? 0
        colorRange = fields["color_range"] ?? ""
        boxes = try topLevelBoxes(path)
    }

    public var isFaststart: Bool {
        guard let moov = boxes.firstIndex(of: "moov"), let mdat = boxes.firstIndex(of: "mdat") else { return false }
        return moov < mdat
    }
}

public struct ProbeError: Error {
    public var message: String
    public init(message: String) { self.message = message }
}

public func topLevelBoxes(_ path: String) throws -> [String] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var boxes: [String] = []
    var offset = 0
    while offset + 8 <= data.count {
        let bytes = [UInt8](data[offset..<offset + 8])
        var size = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        if size == 1, offset + 16 <= data.count {
            size = data[offset + 8..<offset + 16].reduce(0) { $0 << 8 | Int($1) }
        } else if size == 0 {
            size = data.count - offset
        }
        boxes.append(String(decoding: bytes[4..<8], as: UTF8.self))
        guard size >= 8 else { break }
        offset += size
    }
    return boxes
}

/// Every frame of a video or image decoded by ffmpeg to packed RGB at `size`.
public func rgbFrames(_ path: String, size: FrameSize, extraFilter: String? = nil) async throws -> [[UInt8]] {
    var filters = ["scale=\(size.width):\(size.height)", "format=rgb24"]
    if let extraFilter { filters.insert(extraFilter, at: 0) }
    // Accurate rounding and full chroma interpolation: measure the video, not the converter.
    let result = try await run("ffmpeg", ["-v", "error", "-i", path, "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
                                    "-vf", filters.joined(separator: ","),
                                    "-f", "rawvideo", "-"])
    guard result.status == 0 else { throw ProbeError(message: result.errors) }
    let frameBytes = size.width * size.height * 3
    let bytes = [UInt8](result.output)
    return stride(from: 0, to: bytes.count - frameBytes + 1, by: frameBytes).map { Array(bytes[$0..<$0 + frameBytes]) }
}

/// Peak signal-to-noise ratio of two same-sized RGB pictures, in dB.
public func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var squared = 0.0
    for index in a.indices {
        let difference = Double(Int(a[index]) - Int(b[index]))
        squared += difference * difference
    }
    let mse = squared / Double(a.count)
    return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
}

/// Encodes the named fixtures into an MP4 and returns the refused ones with their errors.
public func record(_ names: [String], to output: String, settings: EncoderSettings = EncoderSettings(),
            fit: FitMode = .fit) throws -> (VideoSummary, [String: MediaError]) {
    let recording = try Recording(spoolPath: output + ".spool", settings: settings, fit: fit)
    var refused: [String: MediaError] = [:]
    for name in names {
        do {
            try recording.append(jpeg: try Fixtures.bytes(name))
        } catch let error as MediaError {
            refused[name] = error
        }
    }
    return (try recording.finish(to: output), refused)
}

import ArgumentParser
import Foundation
import ReelCapture
import ReelMedia

/// What `reel capture` does to a raw camera frame, on a file of them: for
/// benchmarks and for camera dumps (`v4l2-ctl --stream-to`).
struct EncodeYUYV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-yuyv",
        abstract: "JPEG-code a file of raw YUYV frames as reel capture would, on one thread, and print the speed."
    )

    @Argument(help: "A file of raw YUYV (YUV 4:2:2 packed) frames, one after another.")
    var input: String

    @Option(help: "Frame size, WIDTHxHEIGHT.")
    var size = FrameSize.hd720

    @Option(help: "JPEG quality, 1-100.")
    var quality = 85

    @Option(help: "Write the JPEG frames to this folder.")
    var outputDir: String?

    func run() throws {
        let frameBytes = size.width * size.height * 2
        guard let file = FileHandle(forReadingAtPath: input) else { throw ValidationError("cannot read \(input)") }
        let encoder = try YUYVEncoder(width: size.width, height: size.height, quality: quality)
        if let outputDir { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) }
        var frames = 0, bytes = 0
        var encoding = Duration.zero
        while let data = try file.read(upToCount: frameBytes), data.count == frameBytes {
            let raw = [UInt8](data)
            let start = ContinuousClock.now
            let jpeg = try raw.withUnsafeBytes { try encoder.encode($0) }
            encoding += ContinuousClock.now - start
            frames += 1
            bytes += jpeg.count
            if let outputDir {
                try Data(jpeg).write(to: URL(fileURLWithPath: outputDir + String(format: "/frame-%06d.jpg", frames)))
            }
        }
        guard frames > 0 else { throw ValidationError("\(input) holds no whole \(size) frame") }
        let seconds = encoding.inSeconds
        print(String(format: "%d frames %@, %.2f ms/frame, %.1f frames/s, %d bytes/frame", frames, size.description,
                     seconds * 1000 / Double(frames), Double(frames) / seconds, bytes / frames))
    }
}

import ArgumentParser
import Foundation
import ReelCapture
import ReelErrors
import ReelMedia

extension CameraSource.Preference: ExpressibleByArgument {}

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record from a V4L2 webcam (or a folder of JPEGs, or a test pattern) through a reel server.",
        discussion: "Ctrl-C, --frames or --duration finishes the recording and prints its URL."
    )

    @Option(help: "Capture device. Default: the first capture device.")
    var device: String?

    @Option(help: "Frames from this instead of a camera: `pattern` (a moving test pattern) or a folder of JPEGs.")
    var source: String?

    @Option(help: "Capture size, WIDTHxHEIGHT (the driver may choose another).")
    var size = FrameSize.hd720

    @Option(help: "Frames per second asked of the camera (and the pace of folder and pattern sources).")
    var fps = 27

    @Option(help: "Camera format: mjpeg (passed through), yuyv (JPEG-coded here) or auto (MJPEG when offered).")
    var format = CameraSource.Preference.auto

    @Option(help: "JPEG quality for raw camera frames, 1-100.")
    var quality = 85

    @Option(help: "The reel server.")
    var server = "http://127.0.0.1:3001"

    @Option(help: "Bearer token of the server (REEL_TOKEN).")
    var token: String?

    @Option(help: "Stop after this many frames.")
    var frames: Int?

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Option(help: "Write the JPEG frames to this folder instead of sending them.")
    var outputDir: String?

    @Option(help: "Seconds to keep retrying a server that went away before giving up.")
    var retrySeconds = 30.0

    func validate() throws {
        guard (1...120).contains(fps) else { throw ValidationError("--fps must be between 1 and 120.") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100.") }
        if let frames, frames < 1 { throw ValidationError("--frames must be positive.") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive.") }
        if device != nil && source != nil { throw ValidationError("--device and --source exclude each other.") }
    }

    func run() throws {
        let frameSource = try makeSource()
        let destination: CaptureSession.Destination = if let outputDir {
            .folder(outputDir)
        } else {
            .server(ServerClient(server: server, token: token ?? ProcessInfo.processInfo.environment["REEL_TOKEN"],
                                 retryFor: .milliseconds(Int(retrySeconds * 1000))))
        }
        let session = CaptureSession(source: frameSource, destination: destination)

        // Ctrl-C, or SIGTERM from systemd stopping the service, finishes the recording instead of killing it.
        let stop = StopFlag()
        let stopSignals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { stopSignals.forEach { $0.cancel() } }
        // On a terminal, a live line of counts every second.
        let showStatus = isatty(STDERR_FILENO) == 1
        let status = DispatchSource.makeTimerSource(queue: .global())
        let started = Date()
        status.schedule(deadline: .now() + 1, repeating: 1)
        status.setEventHandler {
            guard showStatus else { return }
            let counts = session.currentCounts
            let rate = Double(counts.captured) / max(0.001, Date().timeIntervalSince(started))
            printError(String(format: "\r\u{1B}[Kcaptured %d, sent %d, dropped %d, broken %d, %.1f fps",
                              counts.captured, counts.sent, counts.dropped, counts.broken, rate), terminator: "")
        }
        status.resume()
        defer { status.cancel() }

        let outcome: CaptureSession.Outcome
        do {
            outcome = try session.run(frames: frames, duration: duration.map { .milliseconds(Int($0 * 1000)) },
                                      shouldStop: { stop.isSet })
        } catch {
            if showStatus { printError("\r\u{1B}[K", terminator: "") }
            printError("error: \(describe(error))")
            throw ExitCode.failure
        }
        status.cancel()
        if showStatus { printError("\r\u{1B}[K", terminator: "") }
        let counts = outcome.counts
        printError("captured \(counts.captured), sent \(counts.sent), dropped \(counts.dropped), broken \(counts.broken)")
        if let url = outcome.videoURL { print(url) } else if let outputDir { print(outputDir) }
    }

    private func makeSource() throws -> any FrameSource {
        switch source {
        case "pattern"?:
            return try PatternSource(width: size.width, height: size.height, framesPerSecond: fps, quality: quality)
        case let folder?:
            return try FolderSource(folder: folder, framesPerSecond: fps)
        case nil:
            let path = try device ?? firstCaptureDevice()
            do {
                return try CameraSource(path: path, width: size.width, height: size.height, framesPerSecond: fps,
                                        preference: format, quality: quality)
            } catch {
                printError("error: \(describe(error))")
                throw ExitCode.failure
            }
        }
    }

    private func firstCaptureDevice() throws -> String {
        for path in V4L2Device.nodes() where (try? V4L2Device(path: path).capabilities().canCapture) == true {
            return path
        }
        printError("error: no V4L2 capture device found; give --device, or --source pattern or a folder")
        throw ExitCode.failure
    }
}

/// Set once from a signal handler, read by the capture loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

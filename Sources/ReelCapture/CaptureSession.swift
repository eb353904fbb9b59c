import Foundation
import ReelMedia

/// Captures frames on the calling thread and sends them on another, through a
/// small bounded queue: when sending falls behind, new frames are dropped (and
/// counted) rather than stalling the camera.
public final class CaptureSession: @unchecked Sendable {
    public enum Destination: Sendable {
        case server(ServerClient)
        /// JPEG files `frame-000001.jpg`… in a folder, for inspection.
        case folder(String)
    }

    public struct Counts: Sendable {
        public var captured = 0
        public var sent = 0
        public var dropped = 0
        public var broken = 0
    }

    public struct Outcome: Sendable {
        public var counts: Counts
        /// The finished recording's "video url" (nil when writing to a folder).
        public var videoURL: String?
    }

    private let source: any FrameSource
    private let destination: Destination
    private let queueCapacity: Int
    private let condition = NSCondition()
    private var queue: [[UInt8]] = []
    private var counts = Counts()
    private var capturing = true
    private var sendError: Error?

    public init(source: any FrameSource, destination: Destination, queueCapacity: Int = 4) {
        self.source = source
        self.destination = destination
        self.queueCapacity = queueCapacity
    }

    public var currentCounts: Counts { condition.withLock { counts } }

    /// Runs until `frames` or `duration` is reached, the source ends, or `shouldStop` says so.
    public func run(frames: Int? = nil, duration: Duration? = nil, shouldStop: @escaping () -> Bool = { false }) throws -> Outcome {
        let recordingID: String?
        switch destination {
        case .server(let server): recordingID = try server.createRecording()
        case .folder(let path):
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            recordingID = nil
        }
        let sender = Thread { [self] in sendLoop(recordingID: recordingID) }
        sender.name = "reel-sender"
        sender.start()

        let clock = ContinuousClock()
        let start = clock.now
        let pacing = source is CameraSource ? nil : Duration.seconds(1) / max(1, source.framesPerSecond)
        var captured = 0
        while !shouldStop(), frames.map({ captured < $0 }) ?? true, duration.map({ clock.now - start < $0 }) ?? true {
            if condition.withLock({ sendError != nil }) { break }
            guard let jpeg = try source.nextFrame() else {
                if source is CameraSource { continue } else { break }
            }
            captured += 1
            condition.withLock {
                counts.captured = captured
                counts.broken = source.brokenFrames
                if queue.count < queueCapacity { queue.append(jpeg) } else { counts.dropped += 1 }
                condition.broadcast()
            }
            if let pacing {
                // Folders and patterns come as fast as they are read: pace them like a camera.
                let ahead = (start + pacing * captured) - clock.now
                if ahead > .zero {
                    Thread.sleep(forTimeInterval: ahead.inSeconds)
                }
            }
        }
        condition.withLock {
            capturing = false
            counts.broken = source.brokenFrames
            condition.broadcast()
        }
        while !sender.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        if let sendError = condition.withLock({ sendError }) { throw sendError }
        var videoURL: String?
        if case .server(let server) = destination, let recordingID {
            let answer = try server.finish(recordingID)
            videoURL = answer["video url"] as? String
        }
        return Outcome(counts: currentCounts, videoURL: videoURL)
    }

    private func sendLoop(recordingID: String?) {
        while true {
            let next: [UInt8]? = condition.withLock {
                while queue.isEmpty && capturing { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let jpeg = next else { return }
            do {
                switch destination {
                case .server(let server): try server.upload(jpeg, to: recordingID!)
                case .folder(let path):
                    let index = condition.withLock { counts.sent } + 1
                    try Data(jpeg).write(to: URL(fileURLWithPath: (path as NSString)
                        .appendingPathComponent(String(format: "frame-%06d.jpg", index))))
                }
                condition.withLock { counts.sent += 1 }
            } catch {
                condition.withLock {
                    sendError = error
                    queue.removeAll()
                }
                return
            }
        }
    }
}

import Foundation
@testable import ReelMedia

/// Bytes as a spool file left by a killed process: the fragment walker cuts
/// it without crashing, never grows it, and leaves only whole boxes.
let path = NSTemporaryDirectory() + "reel-fuzz-spool-\(getpid()).mp4"

func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let samples = (try? SpoolFile.cutIncompleteTail(path: path)) ?? 0
    let kept = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    precondition(kept <= size, "the cut spool grew from \(size) to \(kept) bytes")
    precondition(samples >= 0)
    _ = SpoolFile.trunSampleCount(in: Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

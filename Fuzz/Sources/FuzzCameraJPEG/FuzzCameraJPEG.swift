import ReelCapture

/// Bytes as a camera's MJPEG frame: the check answers or refuses, and a frame
/// that passes gets Huffman tables without losing its own bytes.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let frame = UnsafeRawBufferPointer(start: data, count: size)
    guard (try? CameraJPEG.check(frame)) != nil else { return 0 }
    let bytes = Array(frame)
    let completed = CameraJPEG.withHuffmanTables(bytes)
    precondition(completed.count >= bytes.count, "tables inserted, yet \(bytes.count) bytes became \(completed.count)")
    return 0
}

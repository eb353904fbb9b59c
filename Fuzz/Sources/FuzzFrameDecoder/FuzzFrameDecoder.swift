import ReelMedia

/// Bytes as a frame: any input is a picture or a frame error, never a crash,
/// and a good frame after it still decodes (a bad frame harms only itself).
// libFuzzer calls in from one thread.
nonisolated(unsafe) let decoder = FrameDecoder(maxSize: FrameSize(width: 2048, height: 2048))
let good = FuzzSeed.goodFrame(decoder: decoder) ?? []

func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    do {
        _ = try decoder.decode(UnsafeRawBufferPointer(start: data, count: size))
    } catch let error as MediaError {
        precondition(error.refusesOnlyTheFrame, "a frame gave a recording error: \(error)")
    } catch {
        preconditionFailure("unexpected error \(error)")
    }
    if !good.isEmpty {
        do { _ = try decoder.decode(good) } catch { preconditionFailure("the good frame after this input failed: \(error)") }
    }
    return 0
}

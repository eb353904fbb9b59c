import Foundation
import NIOCore
import Synchronization
import ReelErrors
import ReelMedia

/// A recording's spool as its viewers read it: the file, held open from the
/// recording's start (so it outlives the spool's removal once the video is
/// made), and the index of its complete fragments. Viewers read only bytes the
/// index lists, which are written and never change; many viewers read the
/// same bytes from the page cache.
final class LiveSpool: Sendable {
    let id: String
    let index: FragmentIndex
    private let descriptor: Int32
    private let watched = Atomic<Bool>(false)

    init(id: String, path: String, index: FragmentIndex) throws {
        self.id = id
        self.index = index
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LiveSpoolError(path: path, operation: "open", code: errno) }
    }

    deinit { close(descriptor) }

    /// Somebody asked for the live view: once ended, the spool is kept a while for them.
    var hasBeenWatched: Bool { watched.load(ordering: .relaxed) }

    func noteWatched() { watched.store(true, ordering: .relaxed) }

    /// The bytes of `range`, which the index lists as complete.
    func read(_ range: Range<Int>) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: range.count)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let wanted = range.upperBound - offset
            var count = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { bytes in
                count = pread(descriptor, bytes.baseAddress, wanted, off_t(offset))
                return max(0, count)
            }
            guard count > 0 else {
                throw LiveSpoolError(path: "recording \(id)'s spool", operation: "read", code: count == 0 ? EIO : errno)
            }
            offset += count
        }
        return buffer
    }
}

/// The spool could not be opened or read.
struct LiveSpoolError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32

    var description: String { "cannot \(operation) \(path): \(reason(errno: code))" }
}

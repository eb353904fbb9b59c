import Foundation

/// The free space of the spool's filesystem against the least the server keeps
/// free (`--min-free`). It is read with `statvfs` at most once a second, so
/// asking on every frame costs nothing.
final class FreeSpace: @unchecked Sendable {
    let path: String
    let minimum: Int
    private let lock = NSLock()
    private var lastRead = ContinuousClock.now - .seconds(10)
    private var lastFree = Int.max

    init(path: String, minimum: Int) {
        self.path = path
        self.minimum = minimum
    }

    /// Bytes free for this process, at most a second old (`Int.max` when unreadable).
    var bytesFree: Int {
        lock.withLock {
            let now = ContinuousClock.now
            if now - lastRead >= .seconds(1) {
                lastRead = now
                lastFree = Self.read(path) ?? Int.max
            }
            return lastFree
        }
    }

    /// Bytes free read from the disk now.
    var bytesFreeNow: Int {
        invalidate()
        return bytesFree
    }

    /// Whether `other` is on the same filesystem as this one's path.
    func sharesDisk(with other: String) -> Bool {
        var mine = stat(), theirs = stat()
        return stat(path, &mine) == 0 && stat(other, &theirs) == 0 && mine.st_dev == theirs.st_dev
    }

    /// Throws when the free space is under the limit: nothing new may be written.
    func check() throws {
        let free = bytesFree
        if free < minimum { throw LowDiskSpace(path: path, bytesFree: free, minimum: minimum) }
    }

    /// Forgets the last reading, so the next question reads the disk (after a write failed for space).
    func invalidate() {
        lock.withLock { lastRead = ContinuousClock.now - .seconds(10) }
    }

    private static func read(_ path: String) -> Int? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return Int(clamping: UInt64(stats.f_bavail) * UInt64(stats.f_frsize))
    }
}

/// The spool's disk has less free space than the server keeps free.
struct LowDiskSpace: Error, CustomStringConvertible {
    var path: String
    var bytesFree: Int
    var minimum: Int

    var description: String {
        "the disk of \(path) has \(ByteCount.text(bytesFree)) free, under the \(ByteCount.text(minimum)) reel keeps free (--min-free)"
    }
}

/// Sizes as people write them: `1G`, `512M`, `1.5GiB`, `64k`, or plain bytes (powers of 1024).
enum ByteCount {
    static func parse(_ text: String) -> Int? {
        var number = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where number.hasSuffix(suffix) {
            number.removeLast(suffix.count)
            break
        }
        let units: [Character: Double] = ["T": 0x1p40, "G": 0x1p30, "M": 0x1p20, "K": 0x1p10]
        var scale = 1.0
        if let unit = number.last, let factor = units[unit] {
            number.removeLast()
            scale = factor
        }
        // Digits with at most one point: no signs, exponents or hexadecimal.
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, parts.allSatisfy({ $0.allSatisfy { ("0"..."9").contains($0) } }),
              !parts[0].isEmpty, let value = Double(number), value * scale < 9e18 else { return nil }
        return Int(value * scale)
    }

    static func text(_ bytes: Int) -> String {
        if bytes == Int.max { return "unknown" }
        let units: [(String, Double)] = [("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024)]
        for (unit, size) in units where Double(bytes) >= size {
            return String(format: "%.1f %@", Double(bytes) / size, unit)
        }
        return "\(bytes) bytes"
    }
}

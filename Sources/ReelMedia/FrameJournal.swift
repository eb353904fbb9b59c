import Foundation

/// Every frame of a recording, as the JPEG it came in, written before the frame
/// is answered: what the spool's complete fragments do not hold yet survives a
/// killed process and is encoded again at recovery (`SpoolRestorer`).
///
/// The journal is a folder of segment files, `<first frame index>.frames`, each
/// starting with the recording's encoder settings, then one record a frame:
/// JPEG length (UInt32), frame index (UInt64) and time (Int64), little-endian,
/// then the JPEG. Writes are plain appends: the page cache survives the death
/// of the process, not of the machine. Segments whose frames are all in durable
/// fragments are deleted, so a journal holds a few seconds of frames.
public final class FrameJournal: @unchecked Sendable {
    public let folder: String
    private let header: [UInt8]
    private let lock = NSLock()
    private var descriptor: Int32 = -1
    /// Bytes in the open segment: where a record that fails part-way is cut back to.
    private var segmentLength = 0
    /// First frame index of every segment still on disk, oldest first.
    private var segments: [Int] = []
    private var nextIndex = 0
    private var durable = 0
    private var written = 0
    /// Bytes written, frames and headers, for the figures.
    public var bytesWritten: Int { lock.withLock { written } }

    static let magic = Array("REELJNL1".utf8)
    static let recordHeaderSize = 20

    /// The journal folder that goes with a spool file.
    public static func folder(forSpool spool: String) -> String { spool + ".journal" }

    public init(folder: String, settings: JournalSettings) throws {
        self.folder = folder
        let json = try JSONEncoder().encode(settings)
        header = Self.magic + Self.littleEndian(UInt32(json.count)) + [UInt8](json)
        guard mkdir(folder, 0o755) == 0 || errno == EEXIST else { throw Self.writeError(path: folder, code: errno) }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends one frame; when this returns the frame survives a killed process.
    public func append(jpeg: UnsafeRawBufferPointer, pts: Int64) throws {
        try lock.withLock {
            if descriptor < 0 { try openSegment() }
            let record = Self.littleEndian(UInt32(jpeg.count)) + Self.littleEndian(UInt64(nextIndex))
                + Self.littleEndian(UInt64(bitPattern: pts))
            do {
                try writeAll(record.withUnsafeBytes { $0 })
                try writeAll(jpeg)
            } catch {
                // Cut the partial record, so the next one starts where a reader expects it.
                _ = ftruncate(descriptor, off_t(segmentLength))
                throw error
            }
            segmentLength += record.count + jpeg.count
            written += record.count + jpeg.count
            nextIndex += 1
        }
    }

    /// Frames before `frames` are in durable fragments: segments holding only
    /// those go, and the next frame starts a segment of its own.
    public func discard(before frames: Int) {
        lock.withLock {
            guard frames > durable else { return }
            durable = frames
            if let current = segments.last, current < frames, descriptor >= 0 {
                close(descriptor)
                descriptor = -1
            }
            while let first = segments.first {
                // A segment ends where the next begins; the last, once closed, at the next frame.
                let end = segments.count > 1 ? segments[1] : (descriptor < 0 ? nextIndex : Int.max)
                guard end <= frames else { break }
                unlink(segmentPath(first))
                segments.removeFirst()
            }
        }
    }

    /// Deletes the journal (its recording is safely in an MP4).
    public func remove() {
        lock.withLock {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
            segments = []
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func segmentPath(_ first: Int) -> String { folder + "/" + String(format: "%010d.frames", first) }

    private func openSegment() throws {
        let path = segmentPath(nextIndex)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.writeError(path: path, code: errno) }
        descriptor = fd
        do {
            try writeAll(header.withUnsafeBytes { $0 })
        } catch {
            close(fd)
            descriptor = -1
            unlink(path)
            throw error
        }
        written += header.count
        segmentLength = header.count
        segments.append(nextIndex)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.writeError(path: segmentPath(segments.last ?? nextIndex), code: errno)
            }
            offset += written
        }
    }

    static func writeError(path: String, code: Int32) -> MediaError {
        code == ENOSPC || code == EDQUOT ? .diskFull(path: path) : .file(path: path, message: String(cString: strerror(code)))
    }

    static func littleEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// What a journal needs to encode its frames again as they would have been.
public struct JournalSettings: Codable, Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var fps: Int
    public var preset: String
    public var crf: Int
    public var keyframeInterval: Int
    public var threads: Int
    public var timing: String
    public var range: String
    public var fit: String

    public init(_ settings: EncoderSettings, fit fitMode: FitMode) {
        width = settings.size.width
        height = settings.size.height
        fps = settings.fps
        preset = settings.preset
        crf = settings.crf
        keyframeInterval = settings.keyframeInterval
        threads = settings.threads
        timing = settings.timing.rawValue
        range = settings.range.rawValue
        fit = fitMode.rawValue
    }

    var encoder: EncoderSettings? {
        guard let timing = EncoderSettings.Timing(rawValue: timing), let range = ColorRange(rawValue: range) else { return nil }
        return EncoderSettings(size: FrameSize(width: width, height: height), fps: fps, preset: preset, crf: crf,
                               keyframeInterval: keyframeInterval, threads: threads, timing: timing, range: range)
    }

    var fitMode: FitMode? { FitMode(rawValue: fit) }
}

/// A journal read back: its settings and every complete frame record, in order.
struct JournalContents {
    struct Frame {
        var index: Int
        var pts: Int64
        var segment: String
        var offset: Int
        var length: Int
    }

    var settings: JournalSettings?
    var frames: [Frame] = []

    /// Indexes every segment, reading record headers only (a journal left by
    /// a failed encoder may hold minutes of frames); a record cut short (the
    /// process died writing it) ends its segment.
    init(folder: String) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".frames") }.sorted()
        for name in names {
            let path = folder + "/" + name
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            let magic = FrameJournal.magic
            guard let end = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil,
                  let head = try? handle.read(upToCount: magic.count + 4), head.count == magic.count + 4,
                  Array(head.prefix(magic.count)) == magic else { continue }
            let jsonLength = Int(Self.read(UInt32.self, [UInt8](head), at: magic.count))
            guard let json = try? handle.read(upToCount: jsonLength), json.count == jsonLength,
                  let settings = try? JSONDecoder().decode(JournalSettings.self, from: json) else { continue }
            self.settings = self.settings ?? settings
            var offset = UInt64(magic.count + 4 + jsonLength)
            while offset + UInt64(FrameJournal.recordHeaderSize) <= end {
                guard (try? handle.seek(toOffset: offset)) != nil,
                      let data = try? handle.read(upToCount: FrameJournal.recordHeaderSize),
                      data.count == FrameJournal.recordHeaderSize else { break }
                let header = [UInt8](data)
                let length = Int(Self.read(UInt32.self, header, at: 0))
                let start = offset + UInt64(FrameJournal.recordHeaderSize)
                guard start + UInt64(length) <= end else { break }
                frames.append(Frame(index: Int(truncatingIfNeeded: Self.read(UInt64.self, header, at: 4)),
                                    pts: Int64(bitPattern: Self.read(UInt64.self, header, at: 12)),
                                    segment: path, offset: Int(start), length: length))
                offset = start + UInt64(length)
            }
        }
        // Segments overlap nowhere; keep each index once, in order.
        var seen = Set<Int>()
        frames = frames.sorted { $0.index < $1.index }.filter { seen.insert($0.index).inserted }
    }

    func jpeg(_ frame: Frame) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: frame.segment) else {
            throw MediaError.file(path: frame.segment, message: "cannot open the journal segment")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(frame.offset))
        guard let data = try handle.read(upToCount: frame.length), data.count == frame.length else {
            throw MediaError.file(path: frame.segment, message: "the journal segment is shorter than its records")
        }
        return [UInt8](data)
    }

    private static func read<Value: FixedWidthInteger>(_ type: Value.Type, _ bytes: [UInt8], at offset: Int) -> Value {
        var value = Value.zero
        for index in (0..<MemoryLayout<Value>.size).reversed() { value = value << 8 | Value(bytes[offset + index]) }
        return value
    }
}

import CV4L2
import Foundation
import ReelMedia

extension V4L2Device {
    /// What the driver actually set: drivers substitute formats and sizes silently.
    public struct CaptureFormat: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var fourCC: String
        public var bytesPerLine: Int
    }

    public static let yuyv = fourCCCode("YUYV")
    public static let mjpeg = fourCCCode("MJPG")

    /// Asks for a format and size, then reads back what the driver chose.
    public func setFormat(width: Int, height: Int, pixelFormat: UInt32) throws -> CaptureFormat {
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(width)
        format.fmt.pix.height = UInt32(height)
        format.fmt.pix.pixelformat = pixelFormat
        format.fmt.pix.field = V4L2_FIELD_ANY.rawValue
        try control(CV4L2_VIDIOC_S_FMT(), &format, "VIDIOC_S_FMT")
        try control(CV4L2_VIDIOC_G_FMT(), &format, "VIDIOC_G_FMT")
        return CaptureFormat(width: Int(format.fmt.pix.width), height: Int(format.fmt.pix.height),
                             fourCC: fourCC(format.fmt.pix.pixelformat), bytesPerLine: Int(format.fmt.pix.bytesperline))
    }

    /// Asks for a frame rate; returns the one the driver set (0 when it does not say).
    @discardableResult
    public func setFrameRate(_ framesPerSecond: Int) throws -> Double {
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(framesPerSecond))
        try control(CV4L2_VIDIOC_S_PARM(), &parameters, "VIDIOC_S_PARM")
        let interval = parameters.parm.capture.timeperframe
        return interval.numerator > 0 ? Double(interval.denominator) / Double(interval.numerator) : 0
    }

    /// Maps `count` driver buffers, queues them and starts streaming.
    public func startStreaming(bufferCount: Int = 4) throws {
        var request = v4l2_requestbuffers()
        request.count = UInt32(bufferCount)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try control(CV4L2_VIDIOC_REQBUFS(), &request, "VIDIOC_REQBUFS")
        guard request.count > 0 else { throw Failure(operation: "VIDIOC_REQBUFS: no buffers", code: ENOMEM) }
        for index in 0..<request.count {
            var buffer = newBuffer(index: index)
            try control(CV4L2_VIDIOC_QUERYBUF(), &buffer, "VIDIOC_QUERYBUF")
            guard let mapped = v4l2_mmap(nil, Int(buffer.length), PROT_READ | PROT_WRITE, MAP_SHARED, descriptor,
                                         Int64(buffer.m.offset)), mapped != MAP_FAILED else {
                throw Failure(operation: "mmap", code: errno)
            }
            buffers.append(UnsafeMutableRawBufferPointer(start: mapped, count: Int(buffer.length)))
            try control(CV4L2_VIDIOC_QBUF(), &buffer, "VIDIOC_QBUF")
        }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try control(CV4L2_VIDIOC_STREAMON(), &type, "VIDIOC_STREAMON")
        streaming = true
    }

    /// Waits up to `timeout` for the next frame and lends its bytes to `body`;
    /// the buffer goes back to the driver afterwards. Nil on timeout.
    public func nextFrame<Result>(timeout: Duration = .seconds(2),
                                  _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result? {
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&waiting, 1, Int32(timeout.inMilliseconds))
        if ready == 0 || (ready < 0 && errno == EINTR) { return nil }
        guard ready > 0 else { throw Failure(operation: "poll", code: errno) }
        var buffer = newBuffer(index: 0)
        try control(CV4L2_VIDIOC_DQBUF(), &buffer, "VIDIOC_DQBUF")
        guard Int(buffer.index) < buffers.count else {
            throw Failure(operation: "VIDIOC_DQBUF gave buffer \(buffer.index) of \(buffers.count)", code: EINVAL)
        }
        let mapped = buffers[Int(buffer.index)]
        let result = Swift.Result { try body(UnsafeRawBufferPointer(rebasing: mapped[0..<min(Int(buffer.bytesused), mapped.count)])) }
        // A buffer the driver never gets back starves the stream: that is an error of its own.
        try control(CV4L2_VIDIOC_QBUF(), &buffer, "VIDIOC_QBUF")
        return try result.get()
    }

    /// STREAMOFF and unmap; also done on deinit, so every exit path stops the camera.
    public func stopStreaming() {
        if streaming {
            var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = try? control(CV4L2_VIDIOC_STREAMOFF(), &type, "VIDIOC_STREAMOFF")
            streaming = false
        }
        for buffer in buffers { v4l2_munmap(buffer.baseAddress, buffer.count) }
        buffers.removeAll()
    }

    private func newBuffer(index: UInt32) -> v4l2_buffer {
        var buffer = v4l2_buffer()
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        buffer.index = index
        return buffer
    }
}

/// V4L2's little-endian four-character code for "YUYV".
func fourCCCode(_ text: String) -> UInt32 {
    text.utf8.prefix(4).enumerated().reduce(0) { $0 | UInt32($1.element) << (UInt32($1.offset) * 8) }
}

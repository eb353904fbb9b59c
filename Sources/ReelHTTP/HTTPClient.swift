import CCurl
import Foundation

/// A blocking-free HTTP/1.1 client over one libcurl easy handle: requests go
/// out one at a time on the client's own thread, on a kept-alive connection.
/// Bodies stream from memory or from a slice of a file, so a large upload never
/// sits in memory whole.
public final class HTTPClient: @unchecked Sendable {
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        /// `length` bytes of the file at `path` from `offset`.
        case file(path: String, offset: Int, length: Int)
    }

    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: [Header]
        public var body: Body
        /// The whole exchange may not take longer.
        public var timeout: Duration
        /// The connection is given up when fewer than 1 KiB/s move for this long (a stalled peer).
        public var stallTimeout: Duration

        public init(method: String, url: String, headers: [Header] = [], body: Body = .empty,
                    timeout: Duration = .seconds(600), stallTimeout: Duration = .seconds(20)) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeout = timeout
            self.stallTimeout = stallTimeout
        }
    }

    public struct Response: Sendable {
        public var status: Int
        /// Header names in lower case; the last value wins.
        public var headers: [String: String]
        public var body: [UInt8]

        public func header(_ name: String) -> String? { headers[name.lowercased()] }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The request did not get an HTTP answer: connection refused, reset, timed out…
    public struct TransportError: Error, CustomStringConvertible, Sendable {
        /// libcurl's `CURLcode`.
        public var code: Int32
        public var message: String
        public var description: String { "HTTP transport error \(code): \(message)" }
        public var isTimeout: Bool { code == Int32(CURLE_OPERATION_TIMEDOUT.rawValue) }
    }

    private let handle: UnsafeMutableRawPointer
    private let queue = DispatchQueue(label: "reel.http")

    public init() {
        _ = HTTPClient.globalInit
        // curl_easy_init fails only when malloc does.
        handle = curl_easy_init()!
    }

    deinit { curl_easy_cleanup(handle) }

    /// libcurl's one-time set-up; a failure is told by every request.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Sends a request on the client's thread, leaving Swift's cooperative pool free.
    public func send(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.perform(request) }) }
        }
    }

    /// Sends a request and blocks until the answer is in.
    public func perform(_ request: Request) throws -> Response {
        guard Self.globalInit == CURLE_OK else {
            throw TransportError(code: Int32(Self.globalInit.rawValue),
                                 message: "libcurl did not start: \(String(cString: curl_easy_strerror(Self.globalInit)))")
        }
        let transfer = try Transfer(body: request.body)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        // libcurl would wait for a 100-continue on large bodies: send at once.
        for header in request.headers + [Header("Expect", "")] {
            // NULL when malloc fails; the list so far is still ours to free.
            guard let longer = curl_slist_append(headerList, "\(header.name): \(header.value)") else {
                throw TransportError(code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory for the request's headers")
            }
            headerList = longer
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        let context = Unmanaged.passUnretained(transfer).toOpaque()

        curl_easy_reset(handle)
        var setup = CCurl_setopt_string(handle, CURLOPT_URL, request.url)
        func set(_ result: CURLcode) { if setup == CURLE_OK { setup = result } }
        set(CCurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(CCurl_setopt_list(handle, CURLOPT_HTTPHEADER, headerList))
        set(CCurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout)))
        set(CCurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(10_000, milliseconds(request.timeout))))
        set(CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024))
        set(CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, milliseconds(request.stallTimeout) / 1000)))
        set(CCurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Transfer.receiveBody))
        set(CCurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        set(CCurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Transfer.receiveHeader))
        set(CCurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        if request.method == "HEAD" {
            set(CCurl_setopt_long(handle, CURLOPT_NOBODY, 1))
        } else if let length = transfer.length {
            // An upload with a known length: libcurl sends Content-Length and calls us for the bytes.
            set(CCurl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            set(CCurl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length)))
            set(CCurl_setopt_callback(handle, CURLOPT_READFUNCTION, Transfer.sendBody))
            set(CCurl_setopt_pointer(handle, CURLOPT_READDATA, context))
            set(CCurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        } else if request.method != "GET" {
            set(CCurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        guard setup == CURLE_OK else {
            throw TransportError(code: Int32(setup.rawValue), message: String(cString: curl_easy_strerror(setup)))
        }
        let result = errorBuffer.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            _ = CCurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            defer { _ = CCurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil) }
            return curl_easy_perform(handle)
        }
        guard result == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw TransportError(code: Int32(result.rawValue),
                                 message: detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail)
        }
        var status = 0
        _ = CCurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: transfer.headers, body: transfer.received)
    }

    private func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// The state of one exchange, reached from libcurl's C callbacks through their context pointer.
private final class Transfer {
    private var bytes: [UInt8] = []
    private var file: FileHandle?
    private var sent = 0
    let length: Int?
    var received: [UInt8] = []
    var headers: [String: String] = [:]

    init(body: HTTPClient.Body) throws {
        switch body {
        case .empty:
            length = nil
        case .bytes(let data):
            bytes = data
            length = data.count
        case let .file(path, offset, count):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw HTTPClient.TransportError(code: Int32(CURLE_READ_ERROR.rawValue), message: "cannot read \(path)")
            }
            try handle.seek(toOffset: UInt64(offset))
            file = handle
            length = count
        }
    }

    deinit { try? file?.close() }

    /// Fills libcurl's buffer with the next bytes of the body.
    private func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let wanted = min(buffer.count, (length ?? 0) - sent)
        guard wanted > 0 else { return 0 }
        if let file {
            guard let chunk = try? file.read(upToCount: wanted), !chunk.isEmpty else { return nil }
            chunk.copyBytes(to: buffer)
            sent += chunk.count
            return chunk.count
        }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[sent..<sent + wanted]))
        }
        sent += wanted
        return wanted
    }

    static let sendBody: CCurl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        guard let read = transfer.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) else {
            return CCurl_READFUNC_ABORT()
        }
        return read
    }

    static let receiveBody: CCurl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        transfer.received.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: size * count))
        return size * count
    }

    static let receiveHeader: CCurl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new response (after a redirect or 100-continue): forget the previous headers.
            transfer.headers = [:]
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            transfer.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return size * count
    }
}

import Foundation
import HTTPTypes
import Hummingbird

/// Serves stored videos the way a browser `<video>` needs them to play and
/// seek: `Range` (206, and 416 past the end), `HEAD`, `ETag`, `Last-Modified`,
/// conditional requests.
struct StoredVideoController<Context: RequestContext> {
    let folder: String
    private let fileIO = FileIO()

    init(folder: String) { self.folder = folder }

    func addRoutes(to group: RouterGroup<Context>) {
        group.get(":name", use: serve)
        group.head(":name", use: serve)
    }

    @Sendable func serve(_ request: Request, context: Context) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        guard !name.hasPrefix("."), !name.contains("/"), name.hasSuffix(".mp4") else {
            throw APIError(.notFound, "no video named \(name)")
        }
        let path = (folder as NSString).appendingPathComponent(name)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date else {
            throw APIError(.notFound, "no video named \(name)")
        }
        let eTag = "\"\(String(size, radix: 16))-\(String(Int(modified.timeIntervalSince1970 * 1000), radix: 16))\""
        var headers: HTTPFields = [
            .contentType: "video/mp4",
            .acceptRanges: "bytes",
            .eTag: eTag,
            .lastModified: HTTPDate.format(modified),
        ]
        if let ifNoneMatch = request.headers[.ifNoneMatch], ifNoneMatch.split(separator: ",").contains(where: {
            $0.trimmingCharacters(in: .whitespaces) == eTag || $0.trimmingCharacters(in: .whitespaces) == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        var range = ByteRange.parse(request.headers[.range], size: size)
        // A range whose If-Range no longer matches gets the whole, changed file.
        if let ifRange = request.headers[.ifRange], ifRange != eTag, ifRange != headers[.lastModified] {
            range = .whole
        }
        let (status, bytes) = range.answer(size: size, headers: &headers)
        guard request.method != .head, let bytes else { return Response(status: status, headers: headers) }
        let body = try await fileIO.loadFile(path: path, range: bytes, context: context)
        return Response(status: status, headers: headers, body: body)
    }
}

/// A single-range `Range: bytes=…` header, read as RFC 9110 says.
enum ByteRange: Equatable {
    case whole
    case part(ClosedRange<Int>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int) -> ByteRange {
        guard let header, header.hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        // Several ranges would need a multipart answer; the whole file is a valid answer too.
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // "bytes=-N": the last N bytes.
            guard let suffix = Int(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if last.isEmpty { return .part(start...(size - 1)) }
        guard let end = Int(last), end >= start else { return .whole }
        return .part(start...min(end, size - 1))
    }

    /// The status and the bytes of a `size`-byte body to send for this range; sets
    /// `Content-Range` and `Content-Length` (a 416 gets no bytes, and no length).
    func answer(size: Int, headers: inout HTTPFields) -> (status: HTTPResponse.Status, bytes: ClosedRange<Int>?) {
        switch self {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return (.rangeNotSatisfiable, nil)
        case .whole:
            headers[.contentLength] = String(size)
            return (.ok, size > 0 ? 0...(size - 1) : nil)
        case .part(let part):
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound)/\(size)"
            headers[.contentLength] = String(part.count)
            return (.partialContent, part)
        }
    }
}

/// HTTP dates (`Last-Modified`), always English and GMT.
enum HTTPDate {
    static func format(_ date: Date) -> String {
        date.formatted(Date.VerbatimFormatStyle(
            format: "\(weekday: .abbreviated), \(day: .twoDigits) \(month: .abbreviated) \(year: .defaultDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits) GMT",
            locale: Locale(identifier: "en_US_POSIX"), timeZone: TimeZone(identifier: "GMT")!, calendar: Calendar(identifier: .gregorian)))
    }
}

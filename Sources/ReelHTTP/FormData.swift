import Foundation

/// Finds one part of a `multipart/form-data` body (RFC 7578) without copying it.
///
/// The frame is most of the body: the boundaries are found with `memchr` and
/// `memcmp`, at memory speed, rather than by a byte-at-a-time parser.
public enum FormData {
    /// The byte range, within `body`, of the contents of the part named `name`.
    public static func part(named name: String, in body: UnsafeRawBufferPointer, boundary: String) -> Range<Int>? {
        let delimiter = Array("--\(boundary)".utf8)
        let nextDelimiter = Array("\r\n--\(boundary)".utf8)
        let headerEnd = Array("\r\n\r\n".utf8)
        guard var position = find(delimiter, in: body, from: 0) else { return nil }
        while true {
            position += delimiter.count
            // "--" after a delimiter closes the form.
            if position + 2 <= body.count, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") {
                return nil
            }
            guard let headersEnd = find(headerEnd, in: body, from: position) else { return nil }
            let headers = String(decoding: UnsafeRawBufferPointer(rebasing: body[position..<headersEnd]), as: UTF8.self)
            let contentStart = headersEnd + headerEnd.count
            guard let contentEnd = find(nextDelimiter, in: body, from: contentStart) else { return nil }
            if partName(headers) == name { return contentStart..<contentEnd }
            position = contentEnd + 2
        }
    }

    /// The `name` parameter of the part's `Content-Disposition: form-data; name="…"` header.
    private static func partName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition"
            else { continue }
            return parameter("name", in: String(pair[1]))
        }
        return nil
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, quoted or not.
    public static func boundary(in contentType: String) -> String? {
        parameter("boundary", in: contentType)
    }

    /// A `key=value` or `key="value"` parameter of a header value.
    static func parameter(_ key: String, in headerValue: String) -> String? {
        for parameter in headerValue.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// `memmem` is a GNU extension Swift's Glibc does not import: `memchr` to the
    /// needle's first byte, `memcmp` for the rest, both at memory speed.
    private static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let base = haystack.baseAddress, let first = needle.first else { return nil }
        var position = start
        return needle.withUnsafeBytes { needleBytes in
            while position + needle.count <= haystack.count {
                guard let hit = memchr(base + position, Int32(first), haystack.count - position - needle.count + 1) else {
                    return nil
                }
                let offset = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + offset, needleBytes.baseAddress!, needle.count) == 0 { return offset }
                position = offset + 1
            }
            return nil
        }
    }
}

import ReelHTTP

/// Bytes as a multipart body: the part found, if any, lies inside the body,
/// and the boundary parameter parser takes any header value.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let body = UnsafeRawBufferPointer(start: data, count: size)
    if let range = FormData.part(named: "image", in: body, boundary: "reelboundary") {
        precondition(range.lowerBound >= 0 && range.upperBound <= size && range.lowerBound <= range.upperBound,
                     "part \(range) outside a body of \(size) bytes")
    }
    // The first line doubles as a Content-Type header value.
    let header = String(decoding: body.prefix(200).prefix { $0 != 0x0A }, as: UTF8.self)
    if let boundary = FormData.boundary(in: header), !boundary.isEmpty {
        _ = FormData.part(named: "image", in: body, boundary: boundary)
    }
    return 0
}

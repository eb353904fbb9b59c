import Testing
import ReelHTTP

@Suite struct FormDataTests {
    func find(_ name: String, in body: String, boundary: String = "XyZ") -> String? {
        let bytes = Array(body.utf8)
        return bytes.withUnsafeBytes { raw in
            FormData.part(named: name, in: raw, boundary: boundary).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
    }

    @Test func findsTheNamedPartAmongOthers() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"image.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            + "JPEG--XyZ-not-a-boundary\r\nstill data\r\n--XyZ--\r\n"
        #expect(find("image", in: body) == "JPEG--XyZ-not-a-boundary\r\nstill data")
        #expect(find("note", in: body) == "hello")
        #expect(find("missing", in: body) == nil)
    }

    @Test func headerNamesAndQuotesAreReadLoosely() {
        let body = "--XyZ\r\ncontent-disposition: form-data; name=image\r\n\r\nabc\r\n--XyZ--"
        #expect(find("image", in: body) == "abc")
        #expect(FormData.boundary(in: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(FormData.boundary(in: "multipart/form-data;boundary=simple; charset=utf-8") == "simple")
        #expect(FormData.boundary(in: "multipart/form-data") == nil)
    }

    @Test func anUnfinishedFormHasNoParts() {
        #expect(find("image", in: "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\ncut off") == nil)
        #expect(find("image", in: "--XyZ\r\nContent-Disposition: form-data; name=\"image\"") == nil)
        #expect(find("image", in: "no boundary at all") == nil)
        #expect(find("image", in: "") == nil)
    }
}

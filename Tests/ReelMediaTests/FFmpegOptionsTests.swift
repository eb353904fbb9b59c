import CFFmpeg
import Testing
@testable import ReelMedia
import ReelTestSupport

@Suite struct FFmpegOptionsTests {
    /// A muxer for `path` with one H.264 stream, as the spool's.
    static func muxer(_ path: String) throws -> UnsafeMutablePointer<AVFormatContext> {
        var context: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&context, nil, "mp4", path), "avformat_alloc_output_context2")
        let muxer = try #require(context)
        let stream = try #require(avformat_new_stream(muxer, nil))
        stream.pointee.codecpar.pointee.codec_type = AVMEDIA_TYPE_VIDEO
        stream.pointee.codecpar.pointee.codec_id = AV_CODEC_ID_H264
        stream.pointee.codecpar.pointee.width = 64
        stream.pointee.codecpar.pointee.height = 64
        stream.pointee.time_base = AVRational(num: 1, den: 27)
        try check(avio_open(&muxer.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
        return muxer
    }

    static func close(_ muxer: UnsafeMutablePointer<AVFormatContext>) {
        avio_closep(&muxer.pointee.pb)
        avformat_free_context(muxer)
    }

    @Test func aMisspelledOptionIsAnErrorNotIgnored() throws {
        let scratch = try ScratchFolder()
        let muxer = try Self.muxer(scratch.file("out.mp4"))
        defer { Self.close(muxer) }
        let options = try FFmpegOptions(["movflags": "frag_keyframe+empty_moov", "frag_durration": "500000"])
        #expect(throws: MediaError.ffmpeg(function: "avformat_write_header", code: CFFmpeg_AVERROR(EINVAL),
                                          message: "options not taken: frag_durration")) {
            try options.pass(to: "avformat_write_header") { avformat_write_header(muxer, &$0) }
        }
    }

    @Test func optionsTheCallTakesPass() throws {
        let scratch = try ScratchFolder()
        let muxer = try Self.muxer(scratch.file("out.mp4"))
        defer { Self.close(muxer) }
        let options = try FFmpegOptions(["movflags": "frag_keyframe+empty_moov", "frag_duration": "500000"])
        try options.pass(to: "avformat_write_header") { avformat_write_header(muxer, &$0) }
    }
}

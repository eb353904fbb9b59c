import CFFmpeg

/// The options of an FFmpeg call that takes an `AVDictionary`: every one set
/// is checked, and one the call leaves untaken (a misspelled name, an option
/// this FFmpeg does not have) is an error rather than silently ignored.
final class FFmpegOptions {
    private var dictionary: OpaquePointer?

    init(_ options: KeyValuePairs<String, String>) throws {
        for (key, value) in options {
            try check(av_dict_set(&dictionary, key, value, 0), "av_dict_set \(key)")
        }
    }

    deinit { av_dict_free(&dictionary) }

    /// Runs `call` with the dictionary, which it consumes; throws what it left.
    func pass(to function: String, _ call: (inout OpaquePointer?) -> Int32) throws {
        try check(call(&dictionary), function)
        var left: [String] = []
        var entry: UnsafeMutablePointer<AVDictionaryEntry>?
        while let next = av_dict_get(dictionary, "", entry, AV_DICT_IGNORE_SUFFIX) {
            left.append(String(cString: next.pointee.key))
            entry = next
        }
        guard left.isEmpty else {
            throw MediaError.ffmpeg(function: function, code: CFFmpeg_AVERROR(EINVAL),
                                    message: "options not taken: \(left.joined(separator: ", "))")
        }
    }
}

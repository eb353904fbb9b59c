import Foundation
import ReelMedia

/// An HLS EVENT playlist of byte ranges into a recording's growing spool
/// (DESIGN §9): the init segment as `EXT-X-MAP`, then segments of whole
/// fragments from keyframe to keyframe, `EXT-X-ENDLIST` once the spool is
/// complete. A segment is listed only once it is closed (the next keyframe's
/// fragment is written, or the recording ended), so the playlist only ever
/// grows and never names a byte that is not written.
struct HLSPlaylist {
    struct Segment: Equatable {
        var offset: Int
        var length: Int
        var duration: Double
    }

    let snapshot: FragmentSnapshot
    /// The keyframe interval: the encoder makes a keyframe at least that often in
    /// video time, so a segment rounds to more only where the camera paused.
    let targetDuration: Int
    /// Where the spool's bytes are, as the playlist names them (relative, with the token when one is needed).
    let uri: String

    /// Segments that are closed: later fragments can only begin new ones. Each
    /// begins at a keyframe, so a player can start with any of them.
    var segments: [Segment] {
        var closed: [Segment] = []
        var open: Segment?
        for fragment in snapshot.fragments {
            if var current = open, !fragment.startsWithKeyframe {
                current.length += fragment.length
                current.duration += fragment.duration
                open = current
                continue
            }
            if let open { closed.append(open) }
            open = Segment(offset: fragment.offset, length: fragment.length, duration: fragment.duration)
        }
        if snapshot.ended, let open { closed.append(open) }
        return closed
    }

    var text: String {
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:\(targetDuration)",
            "#EXT-X-PLAYLIST-TYPE:EVENT",
            // Without it Chromium takes the playlist for a finished video and never loads it again.
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-MAP:URI=\"\(uri)\",BYTERANGE=\"\(snapshot.initLength)@0\"",
        ]
        for segment in segments {
            lines.append("#EXTINF:\(String(format: "%.3f", segment.duration)),")
            lines.append("#EXT-X-BYTERANGE:\(segment.length)@\(segment.offset)")
            lines.append(uri)
        }
        if snapshot.ended { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }
}

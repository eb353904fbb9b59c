import ReelMedia
import Testing
@testable import ReelServer

/// The live playlist: segments of whole fragments, keyframe to keyframe, listed only once closed.
@Suite struct HLSPlaylistTests {
    /// Fragments laid end to end after a 700-byte init segment: "K" starts with a keyframe, "-" does not.
    private func snapshot(_ pattern: String, duration: Double = 0.5, ended: Bool) -> FragmentSnapshot {
        var offset = 700
        let fragments = pattern.map { kind -> Fragment in
            defer { offset += 1000 }
            return Fragment(offset: offset, length: 1000, duration: duration, startsWithKeyframe: kind == "K")
        }
        return FragmentSnapshot(initLength: 700, fragments: fragments, ended: ended)
    }

    @Test func segmentsRunFromKeyframeToKeyframeAndOnlyClosedOnesAreListed() {
        let growing = HLSPlaylist(snapshot: snapshot("K---K---K-", ended: false), targetDuration: 2, uri: "spool.mp4")
        #expect(growing.segments == [
            .init(offset: 700, length: 4000, duration: 2), .init(offset: 4700, length: 4000, duration: 2),
        ])
        #expect(!growing.text.contains("#EXT-X-ENDLIST"))
        // The same fragments and more: what was listed stays as it was.
        let later = HLSPlaylist(snapshot: snapshot("K---K---K---K", ended: false), targetDuration: 2, uri: "spool.mp4")
        #expect(Array(later.segments.prefix(2)) == growing.segments && later.segments.count == 3)

        let ended = HLSPlaylist(snapshot: snapshot("K---K---K-", ended: true), targetDuration: 2, uri: "spool.mp4")
        #expect(ended.segments.last == .init(offset: 8700, length: 2000, duration: 1))
        #expect(ended.text.hasSuffix("spool.mp4\n#EXT-X-ENDLIST\n"))
    }

    @Test func everySegmentBeginsAtAKeyframeHoweverLongTheRunBetween() {
        // The encoder makes keyframes by time; a camera that paused still makes one long run.
        let playlist = HLSPlaylist(snapshot: snapshot("K-------K", ended: true), targetDuration: 2, uri: "spool.mp4")
        #expect(playlist.segments.map(\.duration) == [4, 0.5])
        #expect(playlist.segments.map(\.offset) == [700, 8700])
    }

    @Test func theTextIsAnEventPlaylistOfByteRanges() {
        let playlist = HLSPlaylist(snapshot: snapshot("K-K", ended: true), targetDuration: 2, uri: "spool.mp4?token=s3cret")
        #expect(playlist.text == """
            #EXTM3U
            #EXT-X-VERSION:7
            #EXT-X-TARGETDURATION:2
            #EXT-X-PLAYLIST-TYPE:EVENT
            #EXT-X-MEDIA-SEQUENCE:0
            #EXT-X-MAP:URI="spool.mp4?token=s3cret",BYTERANGE="700@0"
            #EXTINF:1.000,
            #EXT-X-BYTERANGE:2000@700
            spool.mp4?token=s3cret
            #EXTINF:0.500,
            #EXT-X-BYTERANGE:1000@2700
            spool.mp4?token=s3cret
            #EXT-X-ENDLIST

            """)
        let empty = HLSPlaylist(snapshot: snapshot("", ended: false), targetDuration: 2, uri: "spool.mp4")
        #expect(empty.segments.isEmpty && empty.text.hasSuffix("BYTERANGE=\"700@0\"\n"))
    }
}

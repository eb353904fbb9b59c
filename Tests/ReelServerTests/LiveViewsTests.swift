import Foundation
import ReelMedia
import ReelTestSupport
import Testing
@testable import ReelServer

/// Which recordings stay watchable, and for how long.
@Suite struct LiveViewsTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder() }

    private func spool(_ id: String, watched: Bool) throws -> LiveSpool {
        let path = scratch.file("\(id).spool.mp4")
        try Data("0123456789".utf8).write(to: URL(fileURLWithPath: path))
        let spool = try LiveSpool(id: id, path: path, index: FragmentIndex())
        if watched { spool.noteWatched() }
        return spool
    }

    @Test func aWatchedRecordingLingersAfterItEndsAndAnUnwatchedOneDoesNot() throws {
        let views = LiveViews()
        views.add(try spool("watched", watched: true))
        views.add(try spool("unwatched", watched: false))
        let end = ContinuousClock.now
        views.ended("watched", at: end)
        views.ended("unwatched", at: end)
        #expect(views.spool("watched") != nil && views.spool("unwatched") == nil)

        views.removeExpired(now: end + LiveViews.linger - .seconds(1))
        #expect(views.spool("watched") != nil)
        views.removeExpired(now: end + LiveViews.linger)
        #expect(views.spool("watched") == nil)
    }

    @Test func aRecordingInProgressNeverExpiresAndADeletedOneGoesAtOnce() throws {
        let views = LiveViews()
        views.add(try spool("recording", watched: false))
        views.add(try spool("ended", watched: true))
        views.ended("ended")
        views.removeExpired(now: .now + .seconds(86400))
        #expect(views.spool("recording") != nil)
        views.add(try spool("again", watched: true))
        views.remove("again")
        #expect(views.spool("again") == nil)
    }

    @Test func theSpoolIsReadThroughItsDescriptorAfterItsFileIsRemoved() throws {
        let watched = try spool("removed", watched: true)
        try FileManager.default.removeItem(atPath: scratch.file("removed.spool.mp4"))
        #expect(Array(try watched.read(2..<6).readableBytesView) == Array("2345".utf8))
        #expect(throws: LiveSpoolError.self) { try LiveSpool(id: "none", path: scratch.file("none.mp4"), index: FragmentIndex()) }
    }
}

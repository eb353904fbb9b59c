import Testing
@testable import ReelMedia
import ReelTestSupport

@Suite struct PlacementTests {
    let output = FrameSize.hd720

    @Test func fitPillarboxesA4By3Frame() {
        let placement = Placement(from: FrameSize(width: 640, height: 480), to: output, mode: .fit)
        #expect(placement.source == PixelRect(x: 0, y: 0, width: 640, height: 480))
        #expect(placement.destination == PixelRect(x: 160, y: 0, width: 960, height: 720))
        #expect(placement.leavesBorders)
    }

    @Test func fitLetterboxesAWideFrame() {
        let placement = Placement(from: FrameSize(width: 2560, height: 1080), to: output, mode: .fit)
        #expect(placement.destination.width == 1280)
        #expect(placement.destination.height == 540)
        #expect(placement.destination.y == 90)
    }

    @Test func fitOfTheSameShapeCoversEverything() {
        let placement = Placement(from: FrameSize(width: 1920, height: 1080), to: output, mode: .fit)
        #expect(placement.destination == PixelRect(x: 0, y: 0, width: 1280, height: 720))
        #expect(!placement.leavesBorders)
    }

    @Test func fillCropsTheOverflowingEdges() {
        let placement = Placement(from: FrameSize(width: 640, height: 480), to: output, mode: .fill)
        #expect(placement.destination == PixelRect(x: 0, y: 0, width: 1280, height: 720))
        #expect(placement.source == PixelRect(x: 0, y: 60, width: 640, height: 360))
    }

    @Test func stretchUsesWholeFrameAndWholePicture() {
        let placement = Placement(from: FrameSize(width: 641, height: 479), to: output, mode: .stretch)
        #expect(placement.source == PixelRect(x: 0, y: 0, width: 641, height: 479))
        #expect(placement.destination == PixelRect(x: 0, y: 0, width: 1280, height: 720))
    }

    @Test func oddSizesGiveEvenOffsetsAndSizes() {
        for mode in FitMode.allCases {
            let placement = Placement(from: FrameSize(width: 641, height: 479), to: output, mode: mode)
            #expect(placement.destination.x % 2 == 0 && placement.destination.y % 2 == 0)
            #expect(placement.destination.width % 2 == 0 && placement.destination.height % 2 == 0)
            #expect(placement.source.x % 2 == 0 && placement.source.y % 2 == 0)
            #expect(placement.source.x + placement.source.width <= 641)
            #expect(placement.source.y + placement.source.height <= 479)
        }
    }
}

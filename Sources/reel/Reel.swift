import ArgumentParser

@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record webcam video through a server: JPEG frames in, H.264 MP4 out.",
        subcommands: [Serve.self, Capture.self, Devices.self, Transcode.self, Store.self, EncodeYUYV.self]
    )
}

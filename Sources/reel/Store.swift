import ArgumentParser
import Foundation
import Logging
import ReelMedia
import ReelServer
import ReelStorage

struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store MP4 files as reel serve would: in Supabase Storage when configured, else on local disk.",
        discussion: "Prints each file's URL, size and upload speed. Reads the same options, environment and .env as serve."
    )

    @Argument(help: "MP4 files to store.")
    var files: [String]

    @Option(help: "Object name; default video-<unix ms>.mp4 as reel serve names them. Only with one file.")
    var name: String?

    @OptionGroup(title: "Storage") var storage: StorageOptions

    func validate() throws {
        if name != nil && files.count != 1 { throw ValidationError("--name needs exactly one file.") }
    }

    func run() async throws {
        let sources = try await SettingSources(flags: storage.flags)
        let settings = try sources.serverSettings()
        for warning in sources.warnings { printError("warning: \(warning)") }
        // Every file is checked before any is stored: a wrong one stores nothing.
        for file in files { _ = try VideoCheck.h264MP4(file) }
        let destination = try makeVideoStorage(settings, logger: Logger(label: "reel.store"))
        let namer = VideoNamer()
        for file in files {
            let clock = ContinuousClock.now
            let stored = try await destination.store(file: file, name: name ?? namer.nextName())
            let elapsed = ContinuousClock.now - clock
            let seconds = elapsed.inSeconds
            let location = switch stored.location {
            case .remote(let url): url
            case .servedLocally(let path): (settings.storageDirectory as NSString).appendingPathComponent(
                (path as NSString).lastPathComponent)
            }
            print(String(format: "%@: %@, %d bytes in %.3f s, %.1f MB/s", file, location, stored.bytes, seconds,
                         Double(stored.bytes) / 1e6 / max(seconds, 1e-6)))
        }
    }
}

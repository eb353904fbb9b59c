import ArgumentParser
import ReelErrors
import ReelServer

@main
struct Reel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record webcam video through a server: JPEG frames in, H.264 MP4 out.",
        version: reelVersion,
        subcommands: [Serve.self, Capture.self, Devices.self, Transcode.self, Store.self, EncodeYUYV.self]
    )

    /// Runs the command; an error that is not the parser's is printed as one line
    /// (see `describe`) instead of a Foundation dump.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
        } catch where error is ExitCode || error is ValidationError || error is CleanExit
                    || exitCode(for: error).isSuccess {
            // ArgumentParser's own requests: --help, -h and `help <sub>` parse to its
            // HelpCommand, whose run() throws the help request for exit(withError:) to print.
            exit(withError: error)
        } catch {
            printError("error: \(describe(error))")
            exit(withError: ExitCode.failure)
        }
    }
}

/// A command's failure, said as the line the person reads.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

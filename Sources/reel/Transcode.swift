import ArgumentParser
import Foundation
import ReelErrors
import ReelMedia

struct Transcode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode JPEG files, or folders of them sorted by name, into an H.264 MP4."
    )

    @Argument(help: "JPEG files or folders of JPEG files.")
    var inputs: [String]

    @Option(name: [.short, .customLong("output")], help: "The MP4 file to write.")
    var output: String

    @OptionGroup var encoder: EncoderOptions

    func run() throws {
        let folder = (output as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        if !folder.isEmpty, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) {
            throw CommandFailure("the output folder \(folder) does not exist; create it or write elsewhere with -o")
        }
        let files = try Transcoder.frameFiles(in: inputs)
        guard !files.isEmpty else { throw ValidationError("No JPEG files in \(inputs.joined(separator: ", ")).") }
        let showProgress = isatty(STDERR_FILENO) == 1
        let transcoder = Transcoder(settings: encoder.settings, fit: encoder.fit)
        let result: Transcoder.Result
        do {
            result = try transcoder.run(
                files: files, output: output,
                onSkip: { file, error in
                    if showProgress { printError("\r\u{1B}[K", terminator: "") }
                    printError("skipped \(file): \(describe(error))")
                },
                onProgress: { progress in
                    guard showProgress else { return }
                    let fps = Double(progress.framesEncoded) / max(progress.elapsed, 0.001)
                    printError(String(format: "\r\u{1B}[K%d/%d frames, %.1f fps", progress.framesEncoded,
                                      files.count, fps), terminator: "")
                })
        } catch MediaError.noFrames {
            if showProgress { printError("\r\u{1B}[K", terminator: "") }
            printError("error: none of the \(files.count) frames could be used")
            throw ExitCode.failure
        }
        if showProgress { printError("\r\u{1B}[K", terminator: "") }
        let video = result.video
        print(String(format: "%@: %d frames, %.2f s of video, %d bytes, %.1f fps encode, %.2f ms/frame decode, %d skipped",
                     output, video.frames, video.duration, video.bytes, result.encodeFPS,
                     result.decodeMilliseconds, result.skipped.count))
    }
}

func printError(_ text: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((text + terminator).utf8))
}

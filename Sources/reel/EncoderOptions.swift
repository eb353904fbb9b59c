import ArgumentParser
import ReelMedia

extension FrameSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension FitMode: ExpressibleByArgument {}
extension ColorRange: ExpressibleByArgument {}

/// Encoder options shared by every command that writes video.
struct EncoderOptions: ParsableArguments {
    @Option(help: "Frames per second of the output video.")
    var fps = 27

    @Option(help: "Output picture size, WIDTHxHEIGHT.")
    var size = FrameSize.hd720

    @Option(help: "x264 preset: \(EncoderSettings.presets.joined(separator: ", ")).")
    var preset = "veryfast"

    @Option(help: "x264 constant rate factor, 0-51: lower is better and bigger.")
    var crf = 23

    @Option(help: "How frames of another shape fill the picture: fit (black bars), fill (crop), stretch.")
    var fit = FitMode.fit

    @Option(help: "Levels of the H.264 stream: limited (video levels, plays everywhere) or full (JPEG levels kept, flagged).")
    var range = ColorRange.limited

    @Option(help: "Encoder threads; 0 chooses from the core count.")
    var threads = 0

    func validate() throws {
        guard (1...240).contains(fps) else { throw ValidationError("--fps must be between 1 and 240.") }
        guard (0...51).contains(crf) else { throw ValidationError("--crf must be between 0 and 51.") }
        guard EncoderSettings.presets.contains(preset) else {
            throw ValidationError("--preset must be one of \(EncoderSettings.presets.joined(separator: ", ")).")
        }
        guard size.width >= 16, size.height >= 16, size.width % 2 == 0, size.height % 2 == 0 else {
            throw ValidationError("--size must be even in both dimensions and at least 16x16.")
        }
        guard threads >= 0 else { throw ValidationError("--threads must not be negative.") }
    }

    var settings: EncoderSettings {
        EncoderSettings(size: size, fps: fps, preset: preset, crf: crf, threads: threads, range: range)
    }
}

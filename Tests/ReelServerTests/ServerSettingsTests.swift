import Configuration
import Logging
import ReelMedia
import Testing
@testable import ReelServer

@Suite struct ServerSettingsTests {
    /// Settings as every source gives them: text, under the variable's name.
    private func settings(_ variables: [String: String]) throws -> ServerSettings {
        try ServerSettings(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: variables)))
    }

    @Test func defaultsAreTheOriginalServicesWithOurLimits() throws {
        let settings = try settings([:])
        #expect(settings.port == 3001)
        #expect(settings.host == "0.0.0.0")
        #expect(settings.encoder.size == .hd720 && settings.encoder.fps == 27)
        #expect(settings.presetPolicy == .auto(slowest: "veryfast", fastest: "ultrafast"))
        #expect(settings.encoder.threads == 1 && settings.encoderCores == nil)
        #expect(settings.token == nil)
        #expect(settings.logLevel == .info && settings.logFormat == .text)
    }

    @Test func valuesComeFromTheReader() throws {
        let settings = try settings([
            "REEL_PORT": "8080", "REEL_TOKEN": "abc", "REEL_SIZE": "640x360", "REEL_FPS": "15",
            "REEL_TIMING": "arrival", "REEL_FIT": "fill", "REEL_MAX_FRAMES": "100", "REEL_IDLE_SECONDS": "2.5",
            "REEL_MAX_FRAME_BYTES": "2M", "REEL_MIN_FREE": "64M", "REEL_LOG_FORMAT": "json", "REEL_LOG_LEVEL": "debug",
            "SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_KEY": "k", "BUCKET_NAME": "b", "REEL_BUCKET_PUBLIC": "no",
        ])
        #expect(settings.port == 8080)
        #expect(settings.token == "abc")
        #expect(settings.encoder.size == FrameSize(width: 640, height: 360))
        #expect(settings.encoder.fps == 15)
        #expect(settings.encoder.timing == .timestamps)
        #expect(settings.fit == .fill)
        #expect(settings.limits.maxFramesPerRecording == 100)
        #expect(settings.limits.idleSeconds == 2.5)
        #expect(settings.limits.maxFrameBytes == 2 << 20 && settings.minFreeBytes == 64 << 20)
        #expect(settings.logFormat == .json && settings.logLevel == .debug)
        #expect(settings.supabase?.publicBucket == false)
    }

    @Test func aFixedPresetTakesAnyThreadsAndAutoItsRange() throws {
        let fixed = try settings(["REEL_PRESET": "medium", "REEL_THREADS": "4", "REEL_PRESET_MIN": "superfast"])
        #expect(fixed.presetPolicy == .fixed("medium") && fixed.encoder.preset == "medium" && fixed.encoder.threads == 4)
        #expect(fixed.ignored == ["--preset-min (REEL_PRESET_MIN) is for --preset auto and is ignored with --preset medium"])
        let auto = try settings(["REEL_PRESET": "auto", "REEL_PRESET_MAX": "fast", "REEL_PRESET_MIN": "superfast",
                                 "REEL_ENCODER_CORES": "1.5"])
        #expect(auto.presetPolicy == .auto(slowest: "fast", fastest: "superfast") && auto.encoderCores == 1.5)
        #expect(auto.presetPolicy.choices == ["fast", "faster", "veryfast", "superfast"])
    }

    @Test func anEmptyValueIsNotGiven() throws {
        let settings = try settings(["REEL_PORT": "", "REEL_TOKEN": ""])
        #expect(settings.port == 3001 && settings.token == nil)
    }

    @Test(arguments: [
        ("REEL_SIZE", "12x", "--size (REEL_SIZE): \"12x\" is not WIDTHxHEIGHT"),
        ("REEL_SIZE", "641x360", "--size (REEL_SIZE): \"641x360\" is not WIDTHxHEIGHT, even numbers"),
        ("REEL_PORT", "70000", "--port (REEL_PORT): \"70000\" is not a port number from 1 to 65535"),
        ("REEL_PORT", "abc", "--port (REEL_PORT): \"abc\" is not a port number"),
        ("REEL_CRF", "abc", "--crf (REEL_CRF): \"abc\" is not a whole number from 0"),
        ("REEL_FPS", "fast", "--fps (REEL_FPS): \"fast\" is not a whole number of frames per second"),
        ("REEL_IDLE_SECONDS", "-5", "--idle-seconds (REEL_IDLE_SECONDS): \"-5\" is not a number of seconds above 0"),
        ("REEL_IDLE_SECONDS", "nan", "--idle-seconds (REEL_IDLE_SECONDS): \"nan\" is not a number of seconds"),
        ("REEL_PRESET", "warp", "--preset (REEL_PRESET): \"warp\" is not auto or one of ultrafast"),
        ("REEL_PRESET_MAX", "auto", "--preset-max (REEL_PRESET_MAX): \"auto\" is not one of ultrafast"),
        ("REEL_PRESET_MIN", "medium", "--preset-min (REEL_PRESET_MIN): \"medium\" is not one of ultrafast, superfast, veryfast (no slower than --preset-max veryfast)"),
        ("REEL_ENCODER_CORES", "0", "--encoder-cores (REEL_ENCODER_CORES): \"0\" is not a number of cores above 0"),
        ("REEL_THREADS", "2", "--threads (REEL_THREADS): \"2\" is not 1, which --preset auto needs"),
        ("REEL_TIMING", "late", "--timing (REEL_TIMING): \"late\" is not one of constant, arrival"),
        ("REEL_MIN_FREE", "lots", "--min-free (REEL_MIN_FREE): \"lots\" is not a size"),
        ("REEL_LOG_FORMAT", "xml", "--log-format (REEL_LOG_FORMAT): \"xml\" is not one of text, json"),
        ("REEL_PUBLIC_URL", "cam.example.com", "--public-url (REEL_PUBLIC_URL): \"cam.example.com\" is not an http"),
    ])
    func badValuesNameFlagVariableValueAndForm(variable: String, value: String, message: String) {
        #expect {
            _ = try settings([variable: value])
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func supabaseSettingsAreStrictToo() {
        #expect {
            _ = try settings(["SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_KEY": "k", "BUCKET_NAME": "b",
                              "REEL_BUCKET_PUBLIC": "maybe"])
        } throws: { "\($0)" == "--bucket-public (REEL_BUCKET_PUBLIC): \"maybe\" is not true or false" }
        #expect(throws: SettingError.self) { _ = try settings(["SUPABASE_URL": "http://127.0.0.1:9"]) }
    }

    @Test func typosAreFoundWithWhatWasMeant() {
        let unknown = Setting.unknownVariables(in: ["REEL_PROT", "REEL_PORT", "HOME", "REEL_MAX_FRAME"])
        #expect(unknown == ["REEL_MAX_FRAME", "REEL_PROT"])
        #expect(Setting.nearest(to: "REEL_PROT") == .port)
        #expect(Setting.nearest(to: "REEL_MAX_FRAME") == .maxFrames)
        #expect(Setting.nearest(to: "REEL_SOMETHING_ELSE") == nil)
        #expect(Setting.maxFrameBytes.flag == "--max-frame-bytes" && Setting.maxFrameBytes.variable == "REEL_MAX_FRAME_BYTES")
        #expect(Setting.supabaseURL.flag == "--supabase-url" && Setting.bucketName.variable == "BUCKET_NAME")
    }
}

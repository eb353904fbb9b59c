import Configuration
import ReelMedia
import Testing
@testable import ReelServer

@Suite struct ServerSettingsTests {
    @Test func defaultsAreTheOriginalServicesWithOurLimits() throws {
        let settings = try ServerSettings(reader: ConfigReader(providers: [InMemoryProvider(values: [:])]))
        #expect(settings.port == 3001)
        #expect(settings.host == "0.0.0.0")
        #expect(settings.encoder.size == .hd720 && settings.encoder.fps == 27)
        #expect(settings.encoder.preset == "veryfast")
        #expect(settings.token == nil)
    }

    @Test func valuesComeFromTheReader() throws {
        let reader = ConfigReader(providers: [InMemoryProvider(values: [
            "reel.port": 8080, "reel.token": "abc", "reel.size": "640x360", "reel.fps": 15,
            "reel.timing": "arrival", "reel.fit": "fill", "reel.max.frames": 100, "reel.idle.seconds": 2.5,
        ])])
        let settings = try ServerSettings(reader: reader)
        #expect(settings.port == 8080)
        #expect(settings.token == "abc")
        #expect(settings.encoder.size == FrameSize(width: 640, height: 360))
        #expect(settings.encoder.fps == 15)
        #expect(settings.encoder.timing == .timestamps)
        #expect(settings.fit == .fill)
        #expect(settings.limits.maxFramesPerRecording == 100)
        #expect(settings.limits.idleSeconds == 2.5)
    }

    @Test(arguments: [
        ("reel.size", ConfigValue(.string("big"), isSecret: false), "REEL_SIZE"),
        ("reel.port", ConfigValue(.int(70000), isSecret: false), "REEL_PORT"),
        ("reel.preset", ConfigValue(.string("warp"), isSecret: false), "REEL_PRESET"),
        ("reel.timing", ConfigValue(.string("late"), isSecret: false), "REEL_TIMING"),
    ])
    func badValuesNameTheirSetting(key: String, value: ConfigValue, variable: String) {
        let reader = ConfigReader(providers: [InMemoryProvider(values: [AbsoluteConfigKey(ConfigKey(key)): value])])
        do {
            _ = try ServerSettings(reader: reader)
            Issue.record("\(key) accepted")
        } catch {
            #expect("\(error)".contains(variable), "\(error)")
        }
    }
}

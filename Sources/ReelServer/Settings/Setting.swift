import Configuration

/// Every setting `reel serve` reads. A setting's key names both its flag and its
/// environment variable (`reel.max.frames` is `--max-frames` and `REEL_MAX_FRAMES`),
/// so a message about one can name both.
public enum Setting: String, CaseIterable, Sendable {
    case host = "reel.host"
    case port = "reel.port"
    case publicURL = "reel.public.url"
    case storageDirectory = "reel.storage.dir"
    case spoolDirectory = "reel.spool.dir"
    case recordingsDirectory = "reel.recordings.dir"
    case databaseURL = "reel.database.url"
    case instanceID = "reel.instance.id"
    case advertiseURL = "reel.advertise.url"
    case instanceTimeout = "reel.instance.timeout"
    case token = "reel.token"
    case maxFrameBytes = "reel.max.frame.bytes"
    case maxFrameSize = "reel.max.frame.size"
    case maxFrames = "reel.max.frames"
    case maxSeconds = "reel.max.seconds"
    case maxRecordings = "reel.max.recordings"
    case idleSeconds = "reel.idle.seconds"
    case fps = "reel.fps"
    case size = "reel.size"
    case preset = "reel.preset"
    case presetMax = "reel.preset.max"
    case presetMin = "reel.preset.min"
    case encoderCores = "reel.encoder.cores"
    case crf = "reel.crf"
    case threads = "reel.threads"
    case fit = "reel.fit"
    case timing = "reel.timing"
    case range = "reel.range"
    // The original service's names, without the REEL_ prefix.
    case supabaseURL = "supabase.url"
    case supabaseKey = "supabase.key"
    case bucketName = "bucket.name"
    case bucketPublic = "reel.bucket.public"
    case signedURLSeconds = "reel.signed.url.seconds"
    case resumableBytes = "reel.resumable.bytes"
    case retryMaxSeconds = "reel.retry.max.seconds"
    case minFree = "reel.min.free"
    case connectionIdleSeconds = "reel.connection.idle.seconds"
    case maxConnections = "reel.max.connections"
    case maxPending = "reel.max.pending"
    case keepDays = "reel.keep.days"
    case keepBytes = "reel.keep.bytes"
    case webhookURL = "reel.webhook.url"
    case webhookSecret = "reel.webhook.secret"
    case logLevel = "reel.log.level"
    case logFormat = "reel.log.format"

    public var key: ConfigKey { ConfigKey(rawValue) }

    /// `--max-frames`
    public var flag: String { "--" + key.components.drop(while: { $0 == "reel" }).joined(separator: "-") }

    /// `REEL_MAX_FRAMES`
    public var variable: String { key.components.joined(separator: "_").uppercased() }

    /// Values never repeated in a message or a log.
    public var isSecret: Bool { self == .token || self == .supabaseKey || self == .webhookSecret || self == .databaseURL }

    /// Variables that look like ours but name no setting: a typo must not pass silently.
    /// `others` are variables read elsewhere (by `reel capture`, say) that are not settings of serve.
    public static func unknownVariables(in names: some Sequence<String>, others: Set<String> = []) -> [String] {
        let known = Set(allCases.map(\.variable)).union(others)
        return names.filter { $0.hasPrefix("REEL_") && !known.contains($0) }.sorted()
    }

    /// The setting whose variable is nearest to a mistyped one, when one is near enough to be meant.
    public static func nearest(to variable: String) -> Setting? {
        let scored = allCases.map { ($0, editDistance($0.variable, variable)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
        return best.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let b = Array(b)
        var row = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var next = [i + 1]
            for (j, y) in b.enumerated() {
                next.append(min(row[j + 1] + 1, next[j] + 1, row[j] + (x == y ? 0 : 1)))
            }
            row = next
        }
        return row[b.count]
    }
}

/// A setting that cannot be used, said so a person can fix it:
/// `--size (REEL_SIZE): "12x" is not WIDTHxHEIGHT, e.g. 1280x720`.
public struct SettingError: Error, CustomStringConvertible {
    public var setting: Setting
    public var problem: String

    public init(_ setting: Setting, _ problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "\(setting.flag) (\(setting.variable)): \(problem)" }
}

/// Reads settings strictly: a setting not given is nil; one given that does not
/// parse, or is outside its range, is a `SettingError` naming it, what was given
/// and the form expected. Empty values count as not given.
public struct SettingReader: Sendable {
    private let reader: ConfigReader

    public init(_ reader: ConfigReader) { self.reader = reader }

    public func text(_ setting: Setting) -> String? {
        reader.string(forKey: setting.key, isSecret: setting.isSecret).flatMap { $0.isEmpty ? nil : $0 }
    }

    public func int(_ setting: Setting, in range: ClosedRange<Int>, is form: String) throws -> Int? {
        try read(setting, form, { _ in try reader.requiredInt(forKey: setting.key) }, valid: range.contains)
    }

    public func double(_ setting: Setting, is form: String, valid: (Double) -> Bool) throws -> Double? {
        try read(setting, form, { _ in try reader.requiredDouble(forKey: setting.key) }, valid: { $0.isFinite && valid($0) })
    }

    public func bool(_ setting: Setting) throws -> Bool? {
        try read(setting, "true or false", { _ in try reader.requiredBool(forKey: setting.key) })
    }

    public func choice<Value: RawRepresentable<String> & CaseIterable>(_ setting: Setting, of type: Value.Type) throws -> Value? {
        let names = Value.allCases.map(\.rawValue)
        let form = "one of " + names.joined(separator: ", ")
        return try read(setting, form, { _ in try reader.requiredString(forKey: setting.key, as: Value.self) })
    }

    /// A value of a form of our own (`1280x720`, `512M`), parsed by `parse`.
    public func value<Value>(_ setting: Setting, is form: String, _ parse: (String) -> Value?,
                             valid: (Value) -> Bool = { _ in true }) throws -> Value? {
        try read(setting, form, parse, valid: valid)
    }

    private func read<Value>(_ setting: Setting, _ form: String, _ convert: (String) throws -> Value?,
                             valid: (Value) -> Bool = { _ in true }) throws -> Value? {
        guard let given = text(setting) else { return nil }
        guard let value = try? convert(given), valid(value) else {
            let shown = setting.isSecret ? "the value given" : "\"\(given)\""
            throw SettingError(setting, "\(shown) is not \(form)")
        }
        return value
    }
}

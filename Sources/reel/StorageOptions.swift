import ArgumentParser
import Configuration
import ReelServer

/// Where videos are stored, shared by `serve` and `store`.
struct StorageOptions: ParsableArguments {
    @Option(help: "Folder of stored videos, served under /videos (REEL_STORAGE_DIR). Default: data/videos.")
    var storageDir: String?

    @Option(help: "Supabase project URL; with --supabase-key and --bucket-name, videos go to Supabase Storage (SUPABASE_URL). Default: none, local disk.")
    var supabaseURL: String?

    @Option(help: "Supabase key, sent as bearer token and apikey (SUPABASE_KEY).")
    var supabaseKey: String?

    @Option(help: "Supabase Storage bucket (BUCKET_NAME).")
    var bucketName: String?

    @Option(help: "Whether the bucket is public: true answers public URLs, false signed URLs (REEL_BUCKET_PUBLIC). Default: asked of Supabase.")
    var bucketPublic: Bool?

    @Option(help: "Lifetime of signed URLs for a private bucket, in seconds (REEL_SIGNED_URL_SECONDS). Default: 604800 (7 days).")
    var signedURLSeconds: Int?

    @Option(help: "Files above this many bytes are uploaded resumably in 6 MiB chunks (REEL_RESUMABLE_BYTES). Default: 6000000.")
    var resumableBytes: Int?

    /// The options given, as configuration values that win over the environment.
    var optionValues: OptionValues {
        typealias Key = ServerSettings.Key
        var values = OptionValues()
        values.put(Key.storageDirectory, storageDir.map { .string($0) })
        values.put(Key.supabaseURL, supabaseURL.map { .string($0) })
        values.put(Key.supabaseKey, supabaseKey.map { .string($0) }, secret: true)
        values.put(Key.bucketName, bucketName.map { .string($0) })
        values.put(Key.bucketPublic, bucketPublic.map { .bool($0) })
        values.put(Key.signedURLSeconds, signedURLSeconds.map { .int($0) })
        values.put(Key.resumableBytes, resumableBytes.map { .int($0) })
        return values
    }

    /// Options first, then the environment, then `.env` in the working folder.
    static func reader(_ options: OptionValues) async throws -> ConfigReader {
        ConfigReader(providers: [
            InMemoryProvider(name: "options", values: options.values),
            EnvironmentVariablesProvider(),
            try await EnvironmentVariablesProvider(environmentFilePath: ".env", allowMissing: true),
        ])
    }

    static func settings(_ reader: ConfigReader) throws -> ServerSettings {
        do {
            return try ServerSettings(reader: reader)
        } catch let error as SettingsError {
            throw ValidationError(error.description)
        }
    }
}

/// Command-line options as configuration values; an option not given is left
/// out, so the environment and `.env` can supply it.
struct OptionValues {
    private(set) var values: [AbsoluteConfigKey: ConfigValue] = [:]

    mutating func put(_ key: ConfigKey, _ value: ConfigContent?, secret: Bool = false) {
        if let value { values[AbsoluteConfigKey(key)] = ConfigValue(value, isSecret: secret) }
    }
}

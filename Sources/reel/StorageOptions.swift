import ArgumentParser
import ReelServer

/// Where videos are stored, shared by `serve` and `store`. Values are read as
/// text and parsed with the environment's, so a bad one gets the same message
/// from a flag as from `REEL_*` or `.env`.
struct StorageOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Folder of stored videos, served under /videos (REEL_STORAGE_DIR). Default: data/videos.")
    var storageDir: String?

    @Option(parsing: .unconditional, help: "Supabase project URL; with --supabase-key and --bucket-name, videos go to Supabase Storage (SUPABASE_URL). Default: none, local disk.")
    var supabaseURL: String?

    @Option(parsing: .unconditional, help: "Supabase key, sent as bearer token and apikey (SUPABASE_KEY).")
    var supabaseKey: String?

    @Option(parsing: .unconditional, help: "Supabase Storage bucket (BUCKET_NAME).")
    var bucketName: String?

    @Option(parsing: .unconditional, help: "Whether the bucket is public: true answers public URLs, false signed URLs (REEL_BUCKET_PUBLIC). Default: asked of Supabase.")
    var bucketPublic: String?

    @Option(parsing: .unconditional, help: "Lifetime of signed URLs for a private bucket, in seconds (REEL_SIGNED_URL_SECONDS). Default: 604800 (7 days).")
    var signedURLSeconds: String?

    @Option(parsing: .unconditional, help: "Files above this size are uploaded resumably in 6 MiB chunks, e.g. 6M (REEL_RESUMABLE_BYTES). Default: 6000000.")
    var resumableBytes: String?

    var flags: [Setting: String?] {
        [.storageDirectory: storageDir, .supabaseURL: supabaseURL, .supabaseKey: supabaseKey, .bucketName: bucketName,
         .bucketPublic: bucketPublic, .signedURLSeconds: signedURLSeconds, .resumableBytes: resumableBytes]
    }
}

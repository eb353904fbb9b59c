import Foundation
import PackagePlugin

/// Writes `reelVersion`, the package's `git describe`, into the target at every
/// build (only when it changed, so nothing recompiles for nothing). Outside a git
/// checkout it is the package version alone.
@main
struct VersionStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let script = """
            mkdir -p "$2" || exit 1
            described=$(git -C "$1" describe --tags --always --dirty 2>/dev/null)
            line="public let reelVersion = \\"$3${described:+ ($described)}\\""
            [ "$(cat "$2/Version.swift" 2>/dev/null)" = "$line" ] || printf '%s\\n' "$line" > "$2/Version.swift"
            """
        return [.prebuildCommand(
            displayName: "Stamping the version from git describe",
            executable: URL(filePath: "/bin/sh"),
            arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path, Self.packageVersion],
            outputFilesDirectory: output
        )]
    }

    /// Raised with each release.
    static let packageVersion = "0.12.0"
}

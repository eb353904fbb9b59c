import ArgumentParser
import Configuration
import Foundation
import ReelErrors
import ReelServer

/// Where settings come from, strongest first: flags, the environment, `.env` in the working folder.
struct SettingSources {
    static let environmentFile = ".env"

    let reader: ConfigReader
    /// `REEL_*` variables in the environment or `.env` that name no setting.
    let unknownVariables: [String]

    init(flags: [Setting: String?]) async throws {
        let given = flags.compactMapValues { $0 }
        let fileExists = FileManager.default.fileExists(atPath: Self.environmentFile)
        let file: EnvironmentVariablesProvider
        do {
            file = try await EnvironmentVariablesProvider(environmentFilePath: .init(Self.environmentFile), allowMissing: true)
        } catch {
            // A settings file that cannot be read is a setting that cannot be used: EX_CONFIG.
            printError("error: cannot read \(Self.environmentFile) in \(FileManager.default.currentDirectoryPath): \(describe(error))")
            throw ExitCode(78)
        }
        reader = ConfigReader(providers: [
            EnvironmentVariablesProvider(environmentVariables: Dictionary(uniqueKeysWithValues: given.map { ($0.key.variable, $0.value) })),
            EnvironmentVariablesProvider(),
            file,
        ])
        var names = Array(ProcessInfo.processInfo.environment.keys)
        if fileExists, let text = try? String(contentsOfFile: Self.environmentFile, encoding: .utf8) {
            names += Self.variableNames(inEnvironmentFile: text)
        }
        unknownVariables = Setting.unknownVariables(in: Set(names))
    }

    /// The server's settings; a setting that cannot be used ends the command with EX_CONFIG (78).
    func serverSettings() throws -> ServerSettings {
        do {
            return try ServerSettings(reader: reader)
        } catch let error as SettingError {
            printError("error: \(error)")
            throw ExitCode(78)
        }
    }

    /// One line per unknown variable, with the setting it was probably meant to be.
    var warnings: [String] {
        unknownVariables.map { name in
            let guess = Setting.nearest(to: name).map { " (did you mean \($0.variable)?)" } ?? ""
            return "\(name) is not a setting of reel and is ignored\(guess)"
        }
    }

    /// Names of `NAME=value` lines, as `.env` files write them (`export ` allowed, `#` comments skipped).
    static func variableNames(inEnvironmentFile text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            var line = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            return line[..<equals].trimmingCharacters(in: .whitespaces)
        }
    }
}

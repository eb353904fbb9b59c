import Foundation
import ReelMedia

enum FuzzSeed {
    /// The first file (by name) in the corpus folders given on the command
    /// line that is a good frame: it must decode after every input.
    static func goodFrame(decoder: FrameDecoder) -> [UInt8]? {
        for folder in CommandLine.arguments.dropFirst() where !folder.hasPrefix("-") {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            for name in names {
                guard let data = FileManager.default.contents(atPath: folder + "/" + name), data.count < 200_000 else { continue }
                let bytes = [UInt8](data)
                if (try? decoder.decode(bytes)) != nil { return bytes }
            }
        }
        return nil
    }
}

import ArgumentParser
import Foundation
import ReelCapture
import ReelErrors

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List V4L2 capture devices with their formats, sizes and frame rates."
    )

    func run() throws {
        var found = 0
        for path in V4L2Device.nodes() {
            let device: V4L2Device
            let capabilities: V4L2Device.Capabilities
            do {
                device = try V4L2Device(path: path)
                capabilities = try device.capabilities()
            } catch {
                printError("\(path): \(describe(error))")
                continue
            }
            // Metadata and output nodes share /dev/video*: only capture nodes can record.
            guard capabilities.canCapture else { continue }
            found += 1
            print("\(path): \(capabilities.card) (driver \(capabilities.driver), \(capabilities.busInfo))"
                  + (capabilities.canStream ? "" : " — cannot stream"))
            for format in (try? device.formats()) ?? [] {
                print("  \(format.fourCC) \(format.description)")
                for size in format.sizes {
                    let rates = size.framesPerSecond.map { String(format: "%g", $0) }.joined(separator: ", ")
                    print("    \(size.width)x\(size.height)" + (rates.isEmpty ? "" : "  \(rates) fps"))
                }
            }
        }
        if found == 0 {
            printError("no V4L2 capture device found (looked at \(V4L2Device.nodes().count) /dev/video* nodes)")
            throw ExitCode.failure
        }
    }
}

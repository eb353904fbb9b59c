/// Broken JPEGs made from a good one, each breaking one thing a header parser
/// reads: the frames a glitching webcam or a hostile client sends.
public enum JPEGMutations {
    /// Every mutation of `jpeg`, named for test output.
    public static func all(of jpeg: [UInt8]) -> [(name: String, bytes: [UInt8])] {
        var cases: [(String, [UInt8])] = [
            ("SOI only", [0xFF, 0xD8]),
            ("SOI then EOI", [0xFF, 0xD8, 0xFF, 0xD9]),
            ("first 100 bytes", Array(jpeg.prefix(100))),
            ("headers without a scan", headersOnly(jpeg)),
            ("no SOF", removingSegment(0xC0, from: jpeg)),
        ]
        for precision: UInt8 in [0, 9, 12, 16] {
            cases.append(("sample precision \(precision)", changingSOF(jpeg) { $0[4] = precision }))
        }
        for marker: UInt8 in [0xC3, 0xC5, 0xC6, 0xC7] {
            cases.append(("SOF type \(String(marker, radix: 16))", changingSOF(jpeg) { $0[1] = marker }))
        }
        for components: UInt8 in [0, 1, 2, 4] {
            cases.append(("\(components) components", changingSOF(jpeg) { $0[9] = components }))
        }
        for (name, offset) in [("height", 5), ("width", 7)] {
            for value: UInt16 in [0, 65535] {
                cases.append(("\(name) \(value)", changingSOF(jpeg) {
                    $0[offset] = UInt8(value >> 8)
                    $0[offset + 1] = UInt8(value & 0xFF)
                }))
            }
        }
        cases.append(("corrupt DHT counts", changingSegment(0xC4, in: jpeg) { segment in
            for index in 5..<min(21, segment.count) { segment[index] = 0xFF }
        }))
        cases.append(("corrupt DHT length", changingSegment(0xC4, in: jpeg) { $0[2] = 0; $0[3] = 3 }))
        cases.append(("corrupt DQT table id", changingSegment(0xDB, in: jpeg) { $0[4] = 0x5F }))
        cases.append(("corrupt DQT length", changingSegment(0xDB, in: jpeg) { $0[2] = 0xFF; $0[3] = 0xFF }))
        return cases
    }

    /// The offset of the first marker segment `FF <marker>` before the scan.
    public static func segmentOffset(_ marker: UInt8, in jpeg: [UInt8]) -> Int? {
        var index = 2
        while index + 4 <= jpeg.count, jpeg[index] == 0xFF {
            let type = jpeg[index + 1]
            if type == marker { return index }
            if type == 0xDA { return nil }
            index += 2 + (Int(jpeg[index + 2]) << 8 | Int(jpeg[index + 3]))
        }
        return nil
    }

    /// Everything before the first scan, then an end-of-image marker.
    public static func headersOnly(_ jpeg: [UInt8]) -> [UInt8] {
        guard let scan = segmentOffset(0xDA, in: jpeg) ?? scanOffset(jpeg) else { return jpeg }
        return Array(jpeg[..<scan]) + [0xFF, 0xD9]
    }

    private static func scanOffset(_ jpeg: [UInt8]) -> Int? {
        var index = 2
        while index + 4 <= jpeg.count, jpeg[index] == 0xFF {
            if jpeg[index + 1] == 0xDA { return index }
            index += 2 + (Int(jpeg[index + 2]) << 8 | Int(jpeg[index + 3]))
        }
        return nil
    }

    private static func changingSOF(_ jpeg: [UInt8], _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        changingSegment(0xC0, in: jpeg, change)
    }

    /// `change` gets the segment from its `FF` marker byte on.
    private static func changingSegment(_ marker: UInt8, in jpeg: [UInt8], _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        guard let offset = segmentOffset(marker, in: jpeg) else { return jpeg }
        let length = 2 + (Int(jpeg[offset + 2]) << 8 | Int(jpeg[offset + 3]))
        var segment = Array(jpeg[offset..<offset + length])
        change(&segment)
        return Array(jpeg[..<offset]) + segment + Array(jpeg[(offset + length)...])
    }

    private static func removingSegment(_ marker: UInt8, from jpeg: [UInt8]) -> [UInt8] {
        guard let offset = segmentOffset(marker, in: jpeg) else { return jpeg }
        let length = 2 + (Int(jpeg[offset + 2]) << 8 | Int(jpeg[offset + 3]))
        return Array(jpeg[..<offset]) + Array(jpeg[(offset + length)...])
    }
}

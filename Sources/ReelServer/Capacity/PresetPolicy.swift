import ReelMedia

/// How each recording's x264 preset is chosen.
public enum PresetPolicy: Sendable, Equatable {
    /// Every recording gets this preset, however busy the machine is.
    case fixed(String)
    /// Each recording gets the slowest preset from `slowest` down to `fastest`
    /// that the cores still carry together with every recording already admitted;
    /// when even `fastest` does not fit, the recording is refused.
    case auto(slowest: String, fastest: String)

    /// The presets auto may choose, slowest first; the fixed one alone.
    var choices: [String] {
        switch self {
        case .fixed(let preset): [preset]
        case let .auto(slowest, fastest):
            // Settings give known presets, fastest no slower than slowest; anything else is the slowest alone.
            if let low = EncoderSettings.presets.firstIndex(of: fastest), let high = EncoderSettings.presets.firstIndex(of: slowest),
               low <= high {
                Array(EncoderSettings.presets[low...high].reversed())
            } else {
                [slowest]
            }
        }
    }

    var description: String {
        switch self {
        case .fixed(let preset): preset
        case let .auto(slowest, fastest): "auto (\(slowest) down to \(fastest))"
        }
    }
}

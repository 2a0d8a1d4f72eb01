import SluiceBase

/// Durations as JuiceFS (Go) writes them: a sequence of numbers with units, `1h30m`, `90s`,
/// `500ms`, `2d`; a plain number is seconds.
enum DurationOption {
    static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
    ]

    /// Seconds; throws one clear `UsageError` line for anything else, or a negative duration.
    static func parse(_ text: String, name: String) throws -> Double {
        let invalid = UsageError("invalid \(name) \"\(text)\" (a duration such as 90, 30s, 5m, 1h30m)")
        if let n = Double(text) {
            guard n.isFinite, n >= 0 else { throw invalid }
            return n
        }
        var total = 0.0
        var rest = Substring(text)
        guard !rest.isEmpty else { throw invalid }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { throw invalid }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            // The whole run of letters is the unit: "ms" is milliseconds, not minutes and seconds.
            guard let unit = units.first(where: { $0.suffix == String(unitText) }) else { throw invalid }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.seconds
        }
        guard total.isFinite else { throw invalid }
        return total
    }
}

/// Parses sizes written the way storage tools write them: `4096`, `4K`, `4M`, `1G`, `1.5G`, `64KiB`.
/// Units are powers of 1024.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        var s = text.trimmingWhitespace().uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        var multiplier = 1.0
        if let last = s.last, let power = "KMGTP".firstIndex(of: last) {
            multiplier = Double(1 << (10 * ("KMGTP".distance(from: "KMGTP".startIndex, to: power) + 1)))
            s.removeLast()
        }
        guard let value = Double(s), value >= 0, value.isFinite else { return nil }
        let bytes = value * multiplier
        guard bytes < Double(Int.max) else { return nil }
        return Int(bytes)
    }

    /// Renders a byte count with a binary unit, e.g. `4 MiB`.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 || value == value.rounded() { return "\(Int(value)) \(units[unit])" }
        return String(Int(value * 10)) .inserting(".", beforeLast: 1) + " \(units[unit])"
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }

    func inserting(_ c: Character, beforeLast n: Int) -> String {
        var s = self
        s.insert(c, at: s.index(s.endIndex, offsetBy: -n))
        return s
    }
}

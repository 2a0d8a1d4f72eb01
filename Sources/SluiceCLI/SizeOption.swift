import SluiceBase

/// Size options as JuiceFS takes them: a plain number is in the option's unit (MiB for buffer
/// sizes, KiB for small files); a number with a unit (`64K`, `1G`) is taken as written.
enum SizeOption {
    static func parse(_ text: String, unit: Int, name: String, allowZero: Bool = false) throws -> Int {
        let bytes: Int?
        if let n = Double(text), n.isFinite, n >= 0 { bytes = Int(n * Double(unit)) } else { bytes = ByteSize.parse(text) }
        guard let bytes, bytes > 0 || (allowZero && bytes == 0) else { throw UsageError("invalid \(name) \"\(text)\"") }
        return bytes
    }
}

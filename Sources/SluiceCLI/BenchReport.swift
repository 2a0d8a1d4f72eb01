import Foundation
import SluiceBase

/// Renders bench results as the table JuiceFS users know.
enum BenchReport {
    static func table(results: [BenchResult], plan: BenchPlan) -> String {
        var rows: [(String, String, String)] = [("ITEM", "VALUE", "COST")]
        for r in results {
            let perThreadFiles = Double(max(1, r.filesPerThread))
            switch r.unit {
            case .bytes:
                rows.append((r.item, String(format: "%.2f MiB/s", r.amount / r.seconds / 1_048_576),
                             String(format: "%.2f s/file", r.seconds / perThreadFiles)))
            case .files:
                rows.append((r.item, String(format: "%.1f files/s", r.amount / r.seconds),
                             String(format: "%.2f ms/file", r.seconds * 1000 / perThreadFiles)))
            }
        }
        return render(rows)
    }

    /// The bench process's CPU, and what the mount did meanwhile when PATH is on Sluice.
    static func usage(elapsed: Double, benchCPU: Double, statsBefore: String?, statsAfter: String?) -> String {
        var lines = [String(format: "Time used: %.1f s, bench CPU: %.1f%%", elapsed, benchCPU / elapsed * 100)]
        guard let before = statsBefore, let after = statsAfter else { return lines.joined(separator: "\n") }
        let b = OperationStats.parse(before), a = OperationStats.parse(after)
        let value = { (name: String) -> Double in
            Double(after.split(separator: "\n").first { $0.hasPrefix(name + " ") }?.split(separator: " ").last ?? "") ?? 0
        }
        let beforeCPU = Double(before.split(separator: "\n").first { $0.hasPrefix("cpu ") }?.split(separator: " ").last ?? "") ?? 0
        lines.append(String(format: "Mount CPU: %.1f%%, memory: %@ (peak %@)",
                            (value("cpu") - beforeCPU) / elapsed * 100,
                            ByteSize.format(Int(value("rss"))), ByteSize.format(Int(value("peak")))))
        var rows: [(String, String, String)] = [("OPERATION", "COUNT", "LATENCY")]
        let names = [("fuse", "FUSE operation"), ("meta.read", "Meta read"), ("meta.write", "Meta write"),
                     ("object.put", "Put object"), ("object.get", "Get object"), ("object.delete", "Delete object")]
        for (key, label) in names {
            let count = (a[key]?.count ?? 0) &- (b[key]?.count ?? 0)
            let nanos = (a[key]?.nanoseconds ?? 0) &- (b[key]?.nanoseconds ?? 0)
            let latency = count > 0 ? Double(nanos) / Double(count) / 1e6 : 0
            rows.append((label, "\(count)", String(format: "%.3f ms/op", latency)))
        }
        lines.append(render(rows))
        return lines.joined(separator: "\n")
    }

    static func render(_ rows: [(String, String, String)]) -> String {
        let w0 = rows.map(\.0.count).max()!, w1 = rows.map(\.1.count).max()!, w2 = rows.map(\.2.count).max()!
        let rule = "+" + String(repeating: "-", count: w0 + 2) + "+" + String(repeating: "-", count: w1 + 2)
            + "+" + String(repeating: "-", count: w2 + 2) + "+"
        var out = [rule]
        for (i, r) in rows.enumerated() {
            out.append("| " + r.0.padding(toLength: w0, withPad: " ", startingAt: 0) + " | "
                       + String(repeating: " ", count: w1 - r.1.count) + r.1 + " | "
                       + String(repeating: " ", count: w2 - r.2.count) + r.2 + " |")
            if i == 0 { out.append(rule) }
        }
        out.append(rule)
        return out.joined(separator: "\n")
    }
}

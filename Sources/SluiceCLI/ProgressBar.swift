import Foundation
import SluiceBase

/// A one-line progress bar on stderr, redrawn at most every 1% and only when stderr is a
/// terminal (logs stay clean).
final class ProgressBar: Sendable {
    private let title: String
    private let total: Int
    private let state = Locked<(done: Int, shown: Int)>((0, -1))
    private let enabled = isatty(2) == 1

    init(title: String, total: Int) {
        self.title = title
        self.total = max(1, total)
    }

    /// Counts `amount` more units done (one by default).
    func advance(_ amount: Int = 1) {
        guard enabled else { return }
        let percent = state.withLock { s -> Int? in
            s.done += amount
            let p = min(100, s.done * 100 / total)
            guard p != s.shown else { return nil }
            s.shown = p
            return p
        }
        if let percent { draw(percent) }
    }

    func finish() {
        guard enabled else { return }
        draw(100)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw(_ percent: Int) {
        let width = 30
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let padded = title.padding(toLength: 18, withPad: " ", startingAt: 0)
        FileHandle.standardError.write(Data("\r\(padded) [\(bar)] \(percent)%".utf8))
    }
}

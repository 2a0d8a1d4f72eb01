import Foundation
import SluiceBase
import SluiceMeta
import SluiceTestSupport
import XCTest

final class MemoryEngineMetaConformanceTests: XCTestCase {
    func testMetaConformance() {
        MetaConformance(make: { MemoryEngine() }).runAll()
    }
}

final class SQLiteEngineMetaConformanceTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-meta-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func testMetaConformance() {
        var count = 0
        MetaConformance(make: {
            count += 1
            return try SQLiteEngine(path: self.directory.appendingPathComponent("meta-\(count).db").path, create: true)
        }).runAll()
    }
}

import XCTest
final class SluiceChunkTestsPlaceholder: XCTestCase { func testBuilds() {} }

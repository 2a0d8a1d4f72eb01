import XCTest
final class SluiceVFSTestsPlaceholder: XCTestCase { func testBuilds() {} }

import XCTest
final class SluiceBaseTestsPlaceholder: XCTestCase { func testBuilds() {} }

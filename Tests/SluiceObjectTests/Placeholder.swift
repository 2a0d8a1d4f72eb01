import XCTest
final class SluiceObjectTestsPlaceholder: XCTestCase { func testBuilds() {} }

import XCTest
final class SluiceMetaTestsPlaceholder: XCTestCase { func testBuilds() {} }

import Testing
@testable import SluiceCache

@Suite struct LocalCacheConfigTests {
    @Test func directoriesArePerVolume() {
        let config = LocalCacheConfig(roots: ["/a/", "/b"], volumeUUID: "u1", capacity: 1 << 30)
        #expect(config.blocksDirectory("/a/") == "/a/u1/blocks")
        #expect(config.stagingDirectory("/b") == "/b/u1/staging")
    }

    @Test func rootChoiceIsStableAndSpreads() {
        let config = LocalCacheConfig(roots: ["/a", "/b", "/c"], volumeUUID: "u", capacity: 1)
        let keys = (0..<300).map { "vol/chunks/0/\($0)/\($0)_0_4194304" }
        let first = keys.map(config.root(for:))
        #expect(first == keys.map(config.root(for:)))
        #expect(Set(first) == ["/a", "/b", "/c"])
    }
}

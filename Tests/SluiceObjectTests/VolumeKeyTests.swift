import Foundation
import SluiceBase
import SluiceObject
import XCTest

/// Passphrase-protected RSA keys, made by openssl in every form it writes, read by
/// `VolumeKey` (see `EncryptedPEM`): the key must come out identical to the unencrypted one.
final class VolumeKeyTests: XCTestCase {
    private static let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("sluice-keys-\(UUID().uuidString)").path
    private static let passphrase = "correct horse battery staple"
    /// One 2048-bit key for every case (generation takes a moment).
    private static let plain: String = {
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/plain.pem"
        try! openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path])
        return path
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw UsageError("openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// Writes the plain key re-encrypted by `arguments` (openssl pkcs8/rsa options) to `name`.
    private func protected(_ name: String, _ arguments: [String]) throws -> String {
        let path = Self.directory + "/\(name).pem"
        try Self.openssl(arguments + ["-in", Self.plain, "-out", path, "-passout", "pass:\(Self.passphrase)"])
        return path
    }

    private var plainFingerprint: String {
        get throws { VolumeKey.fingerprint(try VolumeKey.loadPrivateKey(path: Self.plain, passphrase: nil).publicKey) }
    }

    func testEveryPBES2AndLegacyAESFormReadsAsTheSameKey() throws {
        let expected = try plainFingerprint
        let pkcs8 = ["pkcs8", "-topk8", "-v2"]
        let cases: [(String, [String], String)] = [
            ("genpkey-default", pkcs8 + ["aes256"], "BEGIN ENCRYPTED PRIVATE KEY"),  // what genpkey -aes256 writes
            ("aes128-sha1", pkcs8 + ["aes128", "-v2prf", "hmacWithSHA1"], "BEGIN ENCRYPTED PRIVATE KEY"),
            ("aes192-sha512", pkcs8 + ["aes192", "-v2prf", "hmacWithSHA512", "-iter", "5000"], "BEGIN ENCRYPTED PRIVATE KEY"),
            ("aes256-sha384", pkcs8 + ["aes256", "-v2prf", "hmacWithSHA384"], "BEGIN ENCRYPTED PRIVATE KEY"),
            ("legacy-aes256", ["rsa", "-aes256", "-traditional"], "Proc-Type: 4,ENCRYPTED"),
            ("legacy-aes128", ["rsa", "-aes128", "-traditional"], "DEK-Info: AES-128-CBC"),
        ]
        for (name, arguments, marker) in cases {
            let path = try protected(name, arguments)
            XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).contains(marker), name)
            let key = try VolumeKey.loadPrivateKey(path: path, passphrase: Self.passphrase)
            XCTAssertEqual(VolumeKey.fingerprint(key.publicKey), expected, name)
            XCTAssertEqual(try VolumeKey.publicKeyForSettings(path: path, passphrase: Self.passphrase).fingerprint, expected, name)
        }
        // genpkey's own output, written directly encrypted.
        let direct = Self.directory + "/direct.pem"
        try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256",
                          "-pass", "pass:\(Self.passphrase)", "-out", direct])
        XCTAssertNoThrow(try VolumeKey.loadPrivateKey(path: direct, passphrase: Self.passphrase))
    }

    func testWrongOrMissingPassphraseIsOneClearError() throws {
        for (name, arguments) in [("wrong-pkcs8", ["pkcs8", "-topk8", "-v2", "aes256"]),
                                  ("wrong-legacy", ["rsa", "-aes256", "-traditional"])] {
            let path = try protected(name, arguments)
            // Many wrong passphrases: a wrong key sometimes yields valid padding over garbage,
            // which must be caught too.
            for attempt in 0..<40 {
                XCTAssertThrowsError(try VolumeKey.loadPrivateKey(path: path, passphrase: "wrong \(attempt)")) { error in
                    XCTAssertEqual((error as? UsageError)?.message,
                                   "wrong passphrase for \(path) (from \(VolumeKey.passphraseEnvironment))")
                }
            }
            for missing in [nil, ""] as [String?] {
                XCTAssertThrowsError(try VolumeKey.loadPrivateKey(path: path, passphrase: missing)) { error in
                    XCTAssertEqual((error as? UsageError)?.message,
                                   "\(path) is a passphrase-protected key: put its passphrase in SLUICE_RSA_PASSPHRASE")
                }
            }
        }
    }

    func testUnsupportedSchemesNameTheConversion() throws {
        for (name, arguments) in [("pbes1", ["pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"]),
                                  ("legacy-des3", ["rsa", "-des3", "-traditional"])] {
            let path = try protected(name, arguments)
            XCTAssertThrowsError(try VolumeKey.loadPrivateKey(path: path, passphrase: Self.passphrase), name) { error in
                let text = "\(error)"
                XCTAssertTrue(error is UsageError, text)
                XCTAssertTrue(text.contains("which Sluice does not read"), text)
                XCTAssertTrue(text.contains("openssl pkcs8 -topk8 -v2 aes256 -in \(path)"), text)
            }
        }
    }

    func testDamagedEncryptedKeyIsAnError() throws {
        let path = try protected("damaged", ["pkcs8", "-topk8", "-v2", "aes256"])
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[2] = String(lines[2].reversed())
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VolumeKey.loadPrivateKey(path: path, passphrase: Self.passphrase)) { error in
            XCTAssertTrue(error is UsageError, "\(error)")
        }
    }
}

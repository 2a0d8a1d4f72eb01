import Foundation

/// Throwaway X.509 material for TLS tests, made with the `openssl` command in `directory`:
/// a CA, a server certificate it signed (for `IP:127.0.0.1` and `DNS:localhost`), a client
/// certificate it signed, and an unrelated second CA (the "wrong CA" of failure tests).
/// Keys are P-256 (quick to generate), unencrypted PEM, mode 0600.
///
/// Not finding `openssl` is a failure, not a skip: scripts/install-deps installs it.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    public var clientCertFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }
    public var otherCAFile: String { directory + "/other-ca.pem" }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Generates everything into `directory` (created if missing). `serverNames` are the
    /// server certificate's subject alternative names.
    public init(directory: String, serverNames: String = "IP:127.0.0.1,DNS:localhost") throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", directory + "/ca.key", "-out", caFile,
                          "-days", "2", "-subj", "/CN=Sluice Test CA"])
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", directory + "/other-ca.key", "-out", otherCAFile,
                          "-days", "2", "-subj", "/CN=Some Other CA"])
        let extensions = directory + "/leaf.ext"
        try "subjectAltName=\(serverNames)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=sluice-client")] {
            let request = directory + "/\(name).csr"
            try Self.openssl(["req"] + ec + ["-keyout", directory + "/\(name).key", "-out", request, "-subj", subject])
            try Self.openssl(["x509", "-req", "-in", request, "-CA", caFile, "-CAkey", directory + "/ca.key",
                              "-CAcreateserial", "-out", directory + "/\(name).pem", "-days", "2",
                              "-extfile", extensions])
        }
        for key in ["ca.key", "other-ca.key", "server.key", "client.key"] {
            chmod(directory + "/" + key, 0o600)
        }
    }

    private static func openssl(_ arguments: [String]) throws {
        let candidates = ["/usr/bin/openssl", "/usr/local/bin/openssl"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "openssl is not installed: the TLS tests need it (scripts/install-deps)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: "
                + String(decoding: message, as: UTF8.self))
        }
    }
}

import Foundation
import SluiceBase

/// What a mounted client tells others about itself.
public struct SessionInfo: Codable, Sendable, Equatable {
    public var id: UInt64
    public var hostName: String
    public var processID: Int32
    public var mountPoint: String
    public var version: String
    public var startedAt: Date
    public var heartbeatAt: Date

    public init(id: UInt64 = 0, hostName: String, processID: Int32, mountPoint: String, version: String,
                startedAt: Date = Date(), heartbeatAt: Date = Date()) {
        self.id = id
        self.hostName = hostName
        self.processID = processID
        self.mountPoint = mountPoint
        self.version = version
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}

extension MetaClient {
    /// Registers this client as a session; open-but-unlinked inodes are recorded under it.
    public func registerSession(_ info: SessionInfo) throws -> SessionID {
        var info = info
        let sid = try engine.write { tx -> SessionID in
            let sid = SessionID(UInt64(try tx.increment(MetaKeys.nextSession, by: 1)))
            info.id = sid.rawValue
            try tx.set(MetaKeys.session(sid), try Self.encodeSession(info))
            return sid
        }
        currentSession.withLock { $0 = sid }
        return sid
    }

    /// Refreshes this session's heartbeat.
    public func heartbeat() throws {
        let sid = sessionID
        guard sid.rawValue != 0 else { return }
        try engine.write { tx in
            guard let bytes = try tx.get(MetaKeys.session(sid)) else { return }
            var info = try Self.decodeSession(bytes)
            info.heartbeatAt = Date()
            try tx.set(MetaKeys.session(sid), try Self.encodeSession(info))
        }
    }

    /// Ends this session: inodes it kept alive after unlink are deleted and its record removed.
    public func closeSession() throws {
        let sid = sessionID
        guard sid.rawValue != 0 else { return }
        try removeSession(sid)
        currentSession.withLock { $0 = SessionID(0) }
    }

    /// Cleans up after clients that died: every other session whose heartbeat is older than
    /// `maxAge` seconds is removed, with the inodes it kept alive after unlink. Returns the
    /// sessions removed.
    @discardableResult
    public func cleanStaleSessions(maxAge: Double) throws -> [SessionInfo] {
        let now = Date()
        let own = sessionID
        let stale = try sessions().filter {
            $0.id != own.rawValue && now.timeIntervalSince($0.heartbeatAt) > maxAge
        }
        for info in stale { try removeSession(SessionID(info.id)) }
        return stale
    }

    private func removeSession(_ sid: SessionID) throws {
        try engine.write { tx in
            let prefix = MetaKeys.sustainedPrefix(sid)
            while true {
                let page = try tx.scan(prefix: prefix, after: nil, limit: 256)
                for pair in page {
                    var r = ByteReader(pair.key, at: prefix.count)
                    let ino = InodeNumber(r.u64())
                    if let bytes = try tx.get(MetaKeys.attr(ino)) {
                        let attr = try MetaCoding.decodeAttr(bytes)
                        if attr.nlink == 0 { try releaseUnlinked(ino, attr, origin: pair.value, in: tx) }
                    }
                    try tx.delete(pair.key)
                }
                if page.count < 256 { break }
            }
            try dropLocks(of: sid, in: tx)
            try tx.delete(MetaKeys.session(sid))
        }
    }

    /// Every registered session.
    public func sessions() throws -> [SessionInfo] {
        try engine.read { tx in
            try tx.scan(prefix: MetaKeys.sessionPrefix, after: nil, limit: 100_000).map { try Self.decodeSession($0.value) }
        }
    }

    static func encodeSession(_ info: SessionInfo) throws -> [UInt8] {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return Array(try e.encode(info))
    }

    static func decodeSession(_ bytes: [UInt8]) throws -> SessionInfo {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { return try d.decode(SessionInfo.self, from: Data(bytes)) } catch {
            throw EngineError("damaged session record: \(error)")
        }
    }
}

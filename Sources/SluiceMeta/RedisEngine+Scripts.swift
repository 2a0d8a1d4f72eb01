import SluiceBase

/// One range of the index that a transaction scanned, with a digest of what it saw there. At
/// commit the range is read again on the server and its digest compared: a key created or
/// deleted inside the range, or a changed value of a key in it, voids the transaction; anything
/// outside the range does not. This replaces a WATCH of the whole index, under which every scan
/// conflicted with every create or delete anywhere in the volume.
struct RedisScanRange {
    /// ZRANGEBYLEX bounds, as sent (`-`, `+`, `[key`, `(key`).
    var min: [UInt8]
    var max: [UInt8]
    /// The most members the validation reads: one more than the scan returned, so that a key
    /// added to the range changes the digest without the validation reading an unbounded range.
    var limit: Int
    /// The digest the scan script computed (hex SHA-1 over members and values).
    var digest: [UInt8]
}

/// The Lua scripts of the Redis engine. A script runs atomically on the server, so a scan that
/// reads the index and the values in one script sees one state in one round trip, and a commit
/// script can check its ranges and apply its writes with nothing in between.
///
/// The volume's value names are built inside the scripts from the value prefix (an argument), so
/// they are not declared in KEYS; they all share the index's hash tag, which keeps them in the
/// index's slot on a Redis Cluster.
enum RedisScripts {
    /// Shared Lua: `read(index, prefix, min, max, limit)` returns the members in range (at most
    /// `limit`, all when negative), their values (false where absent) and the digest of both.
    /// MGET goes in batches because `unpack` of a very long list overflows Lua's stack.
    private static let readRange = """
        local function readRange(index, prefix, min, max, limit)
          local members
          if limit >= 0 then
            members = redis.call('ZRANGEBYLEX', index, min, max, 'LIMIT', 0, limit)
          else
            members = redis.call('ZRANGEBYLEX', index, min, max)
          end
          local values = {}
          for i = 1, #members, 512 do
            local names = {}
            for j = i, math.min(i + 511, #members) do names[#names + 1] = prefix .. members[j] end
            local got = redis.call('MGET', unpack(names))
            for j = 1, #got do values[#values + 1] = got[j] end
          end
          local parts = {}
          for i = 1, #members do
            local m, v = members[i], values[i]
            parts[#parts + 1] = #m .. ':' .. m
            if v then parts[#parts + 1] = '=' .. #v .. ':' .. v else parts[#parts + 1] = '-' end
          end
          return members, values, redis.sha1hex(table.concat(parts))
        end
        -- Checks the ranges described from ARGV[at] on; returns whether all are unchanged and the
        -- position after them.
        local function rangesUnchanged(index, prefix, at)
          local count = tonumber(ARGV[at])
          at = at + 1
          local same = true
          for _ = 1, count do
            if same then
              local _, _, digest = readRange(index, prefix, ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]))
              same = digest == ARGV[at + 3]
            end
            at = at + 4
          end
          return same, at
        end

        """

    /// KEYS[1] index; ARGV: value prefix, min, max, limit. Returns {digest, members, values}.
    static let scan = Array((readRange + """
        local members, values, digest = readRange(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]))
        return {digest, members, values}
        """).utf8)

    /// KEYS[1] index; ARGV: value prefix, then the ranges (count, then min max limit digest per
    /// range). Returns 1 when every range is unchanged, else 0.
    static let validate = Array((readRange + """
        local same = rangesUnchanged(KEYS[1], ARGV[1], 2)
        if same then return 1 end
        return 0
        """).utf8)

    /// KEYS[1] index; ARGV: value prefix, the ranges (as for `validate`), the number of values to
    /// set and key/value pairs, the number of keys to delete and the keys, then the commit
    /// marker's name, sequence number and lifetime in seconds. Applies nothing and returns 0 when
    /// a range changed; else applies everything and returns 1.
    static let commit = Array((readRange + """
        local index, prefix = KEYS[1], ARGV[1]
        local same, at = rangesUnchanged(index, prefix, 2)
        if not same then return 0 end
        local sets = tonumber(ARGV[at])
        at = at + 1
        for _ = 1, sets do
          redis.call('SET', prefix .. ARGV[at], ARGV[at + 1])
          redis.call('ZADD', index, 0, ARGV[at])
          at = at + 2
        end
        local deletes = tonumber(ARGV[at])
        at = at + 1
        for _ = 1, deletes do
          redis.call('DEL', prefix .. ARGV[at])
          redis.call('ZREM', index, ARGV[at])
          at = at + 1
        end
        redis.call('SET', ARGV[at], ARGV[at + 1], 'EX', ARGV[at + 2])
        return 1
        """).utf8)

    /// The ARGV part describing `ranges` (count first).
    static func arguments(for ranges: [RedisScanRange]) -> [[UInt8]] {
        var out: [[UInt8]] = [Array(String(ranges.count).utf8)]
        for range in ranges {
            out += [range.min, range.max, Array(String(range.limit).utf8), range.digest]
        }
        return out
    }
}

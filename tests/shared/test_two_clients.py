"""Two clients of one volume: two `sluice mount -d` processes on two mount points with the same
metadata URL (and so the same bucket), on every engine."""

import ctypes
import errno
import multiprocessing
import os

import pytest

from conftest import pattern, poll, read_file, status, write_file

NOCACHE = ("--attr-cache", "0", "--entry-cache", "0", "--dir-entry-cache", "0")


@pytest.fixture
def two(make_volume, engine_url):
    """Client a with the default caches, client b with every kernel cache off."""
    vol = make_volume(engine_url)
    return vol, vol.client(), vol.client(*NOCACHE)


def test_close_to_open(two):
    _, a, b = two
    # b has seen (and cached what it may of) an older version first.
    write_file(a.path("doc"), b"old version\n")
    assert read_file(b.path("doc")) == b"old version\n"
    for i, size in enumerate([5 * 1024 * 1024 + 17, 100, 70_000]):
        data = pattern(("c2o", i), size)
        write_file(a.path("doc"), data)  # closed when this returns
        # A fresh open through b gets everything a wrote and closed before: close flushes the
        # data and commits the length to metadata; b's caches are off, so its open and read
        # ask metadata for the current length and slice list.
        assert read_file(b.path("doc")) == data
    # And the other direction, to a client that keeps default caches, through a new name (no
    # cached entry or attributes for it on a).
    write_file(b.path("fresh"), pattern("fresh", 4 * 1024 * 1024 + 1))
    assert read_file(a.path("fresh")) == pattern("fresh", 4 * 1024 * 1024 + 1)


def test_attr_cache_zero_sees_changes_at_once(two):
    _, a, b = two
    write_file(a.path("f"), b"12345")
    for step in range(3):
        with open(a.path("f"), "ab") as f:
            f.write(b"x" * (1000 * (step + 1)))
        os.utime(a.path("f"), ns=(1_000_000_000 * (step + 10), 1_000_000_123 * (step + 20)))
        sa, sb = os.stat(a.path("f")), os.stat(b.path("f"))
        assert (sb.st_size, sb.st_mtime_ns) == (sa.st_size, sa.st_mtime_ns)
        assert sb.st_mtime_ns == 1_000_000_123 * (step + 20)
    os.truncate(a.path("f"), 3)
    assert os.stat(b.path("f")).st_size == 3
    os.chmod(a.path("f"), 0o640)
    assert os.stat(b.path("f")).st_mode & 0o777 == 0o640
    # Names too (entry caches off on b).
    os.mkdir(a.path("d"))
    write_file(a.path("d/new"), b"n")
    assert os.stat(b.path("d/new")).st_size == 1
    os.unlink(a.path("d/new"))
    with pytest.raises(FileNotFoundError):
        os.stat(b.path("d/new"))
    assert os.listdir(b.path("d")) == []


# ---- races ---------------------------------------------------------------------------------

PER_MOUNT = 4
ROUNDS = 4
AT_FDCWD = -100
RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(old, new, flags):
    if _libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), new)


def _racer(who, root, barrier, results):
    """One racing process: for each round and operation, waits for all the others, then tries."""
    out = []
    for r in range(ROUNDS):
        ops = [
            ("excl", lambda: os.close(os.open(f"{root}/excl{r}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))),
            ("mkdir", lambda: os.mkdir(f"{root}/dir{r}")),
            ("link", lambda: os.link(f"{root}/src-{who}", f"{root}/link{r}")),
            ("noreplace", lambda: renameat2(f"{root}/nr-{who}-{r}", f"{root}/nr{r}", RENAME_NOREPLACE)),
            ("rename", lambda: os.rename(f"{root}/rn-{who}-{r}", f"{root}/rn{r}")),
        ]
        for name, op in ops:
            barrier.wait(timeout=120)
            try:
                op()
                out.append((r, name, who, 0))
            except OSError as e:
                out.append((r, name, who, e.errno))
    results.put(out)


def test_racing_creates_and_renames(two):
    _, a, b = two
    racers = [(f"{m.name}{i}", m) for m in (a, b) for i in range(PER_MOUNT)]
    for who, m in racers:
        write_file(m.path(f"src-{who}"), who.encode())
        for r in range(ROUNDS):
            write_file(m.path(f"nr-{who}-{r}"), f"nr {who} {r}".encode())
            write_file(m.path(f"rn-{who}-{r}"), f"rn {who} {r}".encode())
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(racers))
    results = ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(who, m.mnt, barrier, results)) for who, m in racers]
    for p in procs:
        p.start()
    outcomes = [x for _ in procs for x in results.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    whos = [who for who, _ in racers]
    names = set(os.listdir(a.mnt))
    for r in range(ROUNDS):
        for op in ["excl", "mkdir", "link", "noreplace"]:
            got = {who: e for (rr, name, who, e) in outcomes if rr == r and name == op}
            winners = [w for w, e in got.items() if e == 0]
            assert len(winners) == 1, f"round {r} {op}: winners {winners} ({got})"
            losers = {w: errno.errorcode.get(e, e) for w, e in got.items() if e != 0}
            assert set(losers.values()) == {"EEXIST"}, f"round {r} {op}: {losers}"
            if op == "link":
                assert read_file(a.path(f"link{r}")) == winners[0].encode()
            if op == "noreplace":
                assert read_file(b.path(f"nr{r}")) == f"nr {winners[0]} {r}".encode()
                # The losers' sources are untouched, the winner's is gone.
                assert {f"nr-{w}-{r}" for w in whos} & names == {f"nr-{w}-{r}" for w in losers}
        # Plain rename onto one target: POSIX lets every rename succeed (each replaces the
        # previous target atomically); one of the sources ends as the target, none survives
        # under its old name, nothing else is left behind.
        got = {who: e for (rr, name, who, e) in outcomes if rr == r and name == "rename"}
        assert set(got.values()) == {0}, got
        assert read_file(b.path(f"rn{r}")).decode().rsplit(" ", 1)[0] in {f"rn {w}" for w in whos}
        assert not any(n.startswith("rn-") and n.endswith(f"-{r}") for n in names)
    # Both clients list the same directory, and link counts add up.
    assert set(os.listdir(b.mnt)) == names
    for who in whos:
        links = sum(1 for r in range(ROUNDS) if read_file(a.path(f"link{r}")) == who.encode())
        assert os.stat(b.path(f"src-{who}")).st_nlink == 1 + links


# ---- locks ---------------------------------------------------------------------------------

def test_locks_across_clients(two, drivers):
    _, a, b = two
    write_file(a.path("locked"), b"lock me")
    holder, other = drivers(), drivers()
    holder.ok(op="open", path=a.path("locked"))
    other.ok(op="open", path=b.path("locked"))

    # fcntl: a write lock on [0, 100) through a.
    holder.ok(op="setlk", type="w", start=0, len=100)
    r = other.do(op="setlk", type="r", start=50, len=10)
    assert not r["ok"] and r["errno"] in (errno.EAGAIN, errno.EACCES)
    got = other.ok(op="getlk", type="w", start=0, len=0)
    assert (got["type"], got["start"], got["len"], got["pid"]) == ("w", 0, 100, holder.pid)
    other.ok(op="setlk", type="w", start=100, len=10)  # no overlap: granted
    # A waiting F_SETLKW through b is granted once a releases, not before.
    other.send(op="setlk", type="w", start=0, len=100, wait=True)
    assert other.read(1.0) is None, "F_SETLKW was granted while a held the lock"
    holder.ok(op="setlk", type="u", start=0, len=0)
    assert other.read(30) == {"ok": True}
    r = holder.do(op="setlk", type="w", start=10, len=1)
    assert not r["ok"] and r["errno"] in (errno.EAGAIN, errno.EACCES)
    got = holder.ok(op="getlk", type="r", start=0, len=0)
    assert (got["type"], got["pid"]) == ("w", other.pid)
    # Closing the file drops the owner's POSIX locks.
    other.ok(op="close")
    holder.ok(op="setlk", type="w", start=0, len=0)
    holder.ok(op="setlk", type="u", start=0, len=0)

    # flock, likewise.
    other.ok(op="open", path=b.path("locked"))
    holder.ok(op="flock", how="ex")
    r = other.do(op="flock", how="sh", nb=True)
    assert not r["ok"] and r["errno"] == errno.EWOULDBLOCK
    other.send(op="flock", how="ex")
    assert other.read(1.0) is None, "a blocking flock was granted while a held the lock"
    holder.ok(op="flock", how="un")
    assert other.read(30) == {"ok": True}
    r = holder.do(op="flock", how="ex", nb=True)
    assert not r["ok"] and r["errno"] == errno.EWOULDBLOCK
    # The last close releases a flock lock. Linux sends a FUSE file system the RELEASE that
    # carries this (FUSE_RELEASE_FLOCK_UNLOCK) asynchronously, after close(2) has returned, so
    # the release is an asynchronous effect here, unlike POSIX locks, which the synchronous
    # FLUSH of every close drops (checked above without waiting).
    other.ok(op="close")
    poll(lambda: holder.do(op="flock", how="ex", nb=True)["ok"], 10, "the flock released by b's last close")
    holder.ok(op="flock", how="un")


# ---- sessions ------------------------------------------------------------------------------

def test_status_lists_both_sessions(two):
    vol, a, b = two
    sessions = status(vol.meta_url)["sessions"]
    assert sorted((s["mountPoint"], s["processID"]) for s in sessions) == sorted([(a.mnt, a.pid), (b.mnt, b.pid)])
    assert len({s["id"] for s in sessions}) == 2
    a.umount()
    sessions = status(vol.meta_url)["sessions"]
    assert [(s["mountPoint"], s["processID"]) for s in sessions] == [(b.mnt, b.pid)]
    # b goes on working alone.
    write_file(b.path("after"), b"still here")
    assert read_file(b.path("after")) == b"still here"
    b.umount()
    assert status(vol.meta_url)["sessions"] == []

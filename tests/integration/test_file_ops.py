"""File operations through system calls (os module) on a mounted volume."""

import errno
import hashlib
import os
import random
import select
import signal
import stat
import subprocess

import pytest

from conftest import CHUNK, MiB, pid_alive, read_file, sluice, write_file


def pread_all(fd, offset, length):
    out = bytearray()
    while len(out) < length:
        b = os.pread(fd, min(4 * MiB, length - len(out)), offset + len(out))
        if not b:
            break
        out += b
    return bytes(out)


def zeros_hash(n):
    h = hashlib.sha256()
    block = bytes(MiB)
    while n > 0:
        h.update(block[:min(n, MiB)])
        n -= MiB
    return h.hexdigest()


def range_hash(fd, offset, length):
    h = hashlib.sha256()
    done = 0
    while done < length:
        b = os.pread(fd, min(4 * MiB, length - done), offset + done)
        assert b, f"short read at {offset + done}"
        h.update(b)
        done += len(b)
    return h.hexdigest()


def object_keys_of(path):
    """The object keys `sluice info` lists for a file."""
    out = sluice("info", path)
    return [line.strip() for line in out.splitlines() if "/chunks/" in line]


# ---- appends and overwrites ------------------------------------------------------------------

def test_o_append_from_two_descriptors(volume):
    path = volume.path("log.txt")
    write_file(path, b"head\n")
    a = os.open(path, os.O_WRONLY | os.O_APPEND)
    b = os.open(path, os.O_WRONLY | os.O_APPEND)
    expected = b"head\n"
    try:
        for i in range(50):
            fd, tag = (a, b"A") if i % 3 else (b, b"B")
            line = tag + str(i).encode() + b"\n"
            # O_APPEND ignores the offset a descriptor would otherwise write at.
            os.lseek(fd, 0, os.SEEK_SET)
            assert os.write(fd, line) == len(line)
            expected += line
        assert os.fstat(a).st_size == len(expected)
    finally:
        os.close(a)
        os.close(b)
    assert read_file(path) == expected
    volume.remount()
    assert read_file(path) == expected


def test_random_overwrites_match_model(volume):
    rng = random.Random(1234)
    path = volume.path("model.bin")
    model = bytearray(rng.randbytes(3 * MiB))
    write_file(path, model)
    fd = os.open(path, os.O_RDWR)
    try:
        for i in range(400):
            size = rng.choice([1, 7, 512, 4096, rng.randrange(1, 300_000)])
            # Mostly inside the file, sometimes extending it past its end (leaving a hole).
            offset = rng.randrange(0, len(model) + 200_000)
            data = rng.randbytes(size)
            assert os.pwrite(fd, data, offset) == size
            if offset > len(model):
                model += bytes(offset - len(model))
            model[offset:offset + size] = data
            if i % 50 == 0:
                # Reads through another descriptor see the writes so far (read your writes).
                with open(path, "rb") as f:
                    assert f.read() == model, f"mismatch after write {i}"
        assert os.fstat(fd).st_size == len(model)
    finally:
        os.close(fd)
    assert read_file(path) == model
    volume.remount()
    assert os.stat(path).st_size == len(model)
    assert read_file(path) == model


# ---- sparse files and truncate ---------------------------------------------------------------

def test_sparse_file_reads_zeros_in_holes(volume):
    path = volume.path("sparse")
    offset = 100 * MiB
    tail = b"end of a sparse file"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.pwrite(fd, b"start", 0)
        os.pwrite(fd, tail, offset)
    finally:
        os.close(fd)
    assert os.stat(path).st_size == offset + len(tail)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 5, 0) == b"start"
        assert range_hash(fd, 5, offset - 5) == zeros_hash(offset - 5)
        assert os.pread(fd, 100, offset) == tail
        assert os.pread(fd, 10, offset + len(tail)) == b""
        # A hole straddling the first chunk boundary.
        assert os.pread(fd, 2 * MiB, CHUNK - MiB) == bytes(2 * MiB)
    finally:
        os.close(fd)
    # The holes take no objects: far less is stored than the size.
    assert sum(volume.objects().values()) < MiB


def test_truncate_down_and_up(volume):
    rng = random.Random(5)
    path = volume.path("trunc")
    data = rng.randbytes(10 * MiB)
    write_file(path, data)
    os.truncate(path, 3 * MiB + 17)
    assert os.stat(path).st_size == 3 * MiB + 17
    assert read_file(path) == data[:3 * MiB + 17]
    os.truncate(path, 8 * MiB)
    got = read_file(path)
    assert len(got) == 8 * MiB
    assert got[:3 * MiB + 17] == data[:3 * MiB + 17]
    assert got[3 * MiB + 17:] == bytes(8 * MiB - 3 * MiB - 17), "re-extended tail must read zeros"
    # ftruncate on an open descriptor, then writing past the new end.
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, 100)
        os.pwrite(fd, b"xyz", 200)
        assert os.fstat(fd).st_size == 203
        assert os.pread(fd, 203, 0) == data[:100] + bytes(100) + b"xyz"
    finally:
        os.close(fd)
    volume.remount()
    assert read_file(path) == data[:100] + bytes(100) + b"xyz"


def test_truncate_across_chunk_boundary(volume):
    rng = random.Random(6)
    path = volume.path("two-chunks")
    size = CHUNK + 6 * MiB
    pattern = rng.randbytes(MiB)
    with open(path, "wb") as f:
        for _ in range(size // MiB):
            f.write(pattern)
    # Cut inside chunk 0, extend across the boundary: everything past the cut reads zeros,
    # including the part of chunk 1 that held data before.
    cut = CHUNK - 3 * MiB - 5
    os.truncate(path, cut)
    os.truncate(path, size)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.fstat(fd).st_size == size
        assert pread_all(fd, cut - MiB, MiB) == (pattern * 64)[cut - MiB:cut]
        assert range_hash(fd, cut, size - cut) == zeros_hash(size - cut)
        assert os.pread(fd, 10, CHUNK) == bytes(10)
    finally:
        os.close(fd)
    # Cut inside chunk 1 this time, then extend further.
    with open(path, "r+b") as f:
        f.seek(CHUNK)
        f.write(pattern)
    os.truncate(path, CHUNK + 100)
    os.truncate(path, CHUNK + 2 * MiB)
    volume.remount()
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 100, CHUNK) == pattern[:100]
        assert pread_all(fd, CHUNK + 100, 2 * MiB - 100) == bytes(2 * MiB - 100)
        assert range_hash(fd, cut, CHUNK - cut) == zeros_hash(CHUNK - cut)
    finally:
        os.close(fd)


# ---- rename, links, symlinks -----------------------------------------------------------------

def test_rename_over_existing_file(volume):
    src, dst = volume.path("src"), volume.path("dst")
    write_file(src, b"S" * (5 * MiB))
    write_file(dst, b"D" * (6 * MiB))
    old_keys = object_keys_of(dst)
    assert old_keys
    ino = os.stat(src).st_ino
    os.rename(src, dst)
    assert not os.path.exists(src)
    assert os.stat(dst).st_ino == ino
    assert read_file(dst) == b"S" * (5 * MiB)
    assert sorted(os.listdir(volume.mnt)) == ["dst"]
    volume.umount()
    # The replaced file's data is gone once the client finished its deletions.
    remaining = set(volume.objects())
    assert not remaining.intersection(old_keys), "objects of the overwritten file remain"
    volume.mount()
    assert read_file(dst) == b"S" * (5 * MiB)


def test_rename_directories(volume):
    a = volume.path("a")
    os.makedirs(os.path.join(a, "sub", "deep"))
    write_file(os.path.join(a, "sub", "deep", "f"), b"payload")
    os.mkdir(volume.path("b"))
    os.mkdir(volume.path("empty"))
    root_links = os.stat(volume.mnt).st_nlink
    os.rename(a, volume.path("b", "a2"))
    assert not os.path.exists(a)
    assert read_file(volume.path("b", "a2", "sub", "deep", "f")) == b"payload"
    # The moved directory counts as a subdirectory of its new parent, not the old one.
    assert os.stat(volume.mnt).st_nlink == root_links - 1
    assert os.stat(volume.path("b")).st_nlink == 3
    # Over an empty directory: allowed. Over a non-empty one: ENOTEMPTY.
    os.rename(volume.path("b", "a2"), volume.path("empty"))
    assert read_file(volume.path("empty", "sub", "deep", "f")) == b"payload"
    os.mkdir(volume.path("full"))
    write_file(volume.path("full", "x"), b"")
    with pytest.raises(OSError) as e:
        os.rename(volume.path("empty"), volume.path("full"))
    assert e.value.errno == errno.ENOTEMPTY
    # Into its own subdirectory: EINVAL. A directory over a file: ENOTDIR.
    with pytest.raises(OSError) as e:
        os.rename(volume.path("empty"), volume.path("empty", "sub", "inside"))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        os.rename(volume.path("empty"), volume.path("full", "x"))
    assert e.value.errno == errno.ENOTDIR
    volume.remount()
    assert read_file(volume.path("empty", "sub", "deep", "f")) == b"payload"
    assert sorted(os.listdir(volume.mnt)) == ["b", "empty", "full"]
    assert os.listdir(volume.path("b")) == []


def test_hard_links(volume):
    one, two, three = volume.path("one"), volume.path("two"), volume.path("d", "three")
    os.mkdir(volume.path("d"))
    write_file(one, b"shared data")
    os.link(one, two)
    os.link(one, three)
    assert os.stat(one).st_nlink == 3
    assert os.stat(one).st_ino == os.stat(two).st_ino == os.stat(three).st_ino
    with open(two, "r+b") as f:
        f.write(b"SHARED")
    assert read_file(one) == read_file(three) == b"SHARED data"
    os.unlink(one)
    assert not os.path.exists(one)
    assert os.stat(two).st_nlink == 2
    assert read_file(three) == b"SHARED data"
    volume.remount()
    assert os.stat(two).st_nlink == 2
    os.unlink(three)
    assert os.stat(two).st_nlink == 1
    assert read_file(two) == b"SHARED data"
    with pytest.raises(OSError) as e:
        os.link(volume.path("d"), volume.path("dlink"))
    assert e.value.errno == errno.EPERM


def test_symlinks(volume):
    os.makedirs(volume.path("dir", "sub"))
    write_file(volume.path("dir", "sub", "target"), b"through the link")
    os.symlink("dir/sub/target", volume.path("rel"))
    os.symlink(volume.path("dir"), volume.path("abs-dir"))
    os.symlink("does/not/exist", volume.path("dangling"))
    assert os.readlink(volume.path("rel")) == "dir/sub/target"
    assert read_file(volume.path("rel")) == b"through the link"
    assert read_file(volume.path("abs-dir", "sub", "target")) == b"through the link"
    assert stat.S_ISLNK(os.lstat(volume.path("rel")).st_mode)
    assert os.lstat(volume.path("rel")).st_size == len("dir/sub/target")
    assert stat.S_ISREG(os.stat(volume.path("rel")).st_mode)
    assert not os.path.exists(volume.path("dangling"))
    assert os.path.lexists(volume.path("dangling"))
    long_target = "x" * 1000
    os.symlink(long_target, volume.path("long"))
    volume.remount()
    assert os.readlink(volume.path("rel")) == "dir/sub/target"
    assert os.readlink(volume.path("long")) == long_target
    assert read_file(volume.path("abs-dir", "sub", "target")) == b"through the link"
    os.unlink(volume.path("rel"))
    assert read_file(volume.path("dir", "sub", "target")) == b"through the link"


# ---- directory errors ------------------------------------------------------------------------

def expect_errno(code, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == code, f"{fn.__name__}{args}: {e.value}"


def test_mkdir_rmdir_errors(volume):
    d = volume.path("d")
    os.mkdir(d)
    write_file(volume.path("d", "f"), b"x")
    write_file(volume.path("file"), b"x")
    expect_errno(errno.EEXIST, os.mkdir, d)
    expect_errno(errno.EEXIST, os.mkdir, volume.path("file"))
    expect_errno(errno.ENOENT, os.mkdir, volume.path("missing", "x"))
    expect_errno(errno.ENOTDIR, os.mkdir, volume.path("file", "x"))
    expect_errno(errno.ENOTEMPTY, os.rmdir, d)
    expect_errno(errno.ENOENT, os.rmdir, volume.path("missing"))
    expect_errno(errno.ENOTDIR, os.rmdir, volume.path("file"))
    expect_errno(errno.EISDIR, os.unlink, d)
    expect_errno(errno.ENOENT, os.unlink, volume.path("missing"))
    expect_errno(errno.ENOTDIR, os.listdir, volume.path("file"))
    # Nothing above changed the tree.
    assert sorted(os.listdir(volume.mnt)) == ["d", "file"]
    assert os.listdir(d) == ["f"]
    os.unlink(volume.path("d", "f"))
    os.rmdir(d)
    assert not os.path.exists(d)
    assert os.stat(volume.mnt).st_nlink == 2


def test_many_entries_in_one_directory(volume):
    d = volume.path("many")
    os.mkdir(d)
    names = {f"entry-{i:05d}" for i in range(2500)}
    for n in names:
        os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o600))
    # Listed by a child process with a time limit: a client that loops on a listing must
    # fail this test, not hang the suite. 2500 entries span several pages of the client's
    # directory window and many reply buffers of the kernel.
    assert listing(d) == names
    volume.remount()
    assert listing(d) == names


def listing(d, *flags):
    p = subprocess.run(["ls", "-a", *flags, d], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    names = p.stdout.split()
    assert len(names) == len(set(names)), "an entry was listed twice"
    return set(names) - {".", ".."}


# ---- open files, fsync -----------------------------------------------------------------------

def test_unlinked_open_file_stays_readable(volume):
    path = volume.path("doomed")
    data = os.urandom(6 * MiB)
    write_file(path, data)
    keys = object_keys_of(path)
    fd = os.open(path, os.O_RDWR)
    try:
        os.unlink(path)
        assert not os.path.exists(path)
        assert os.fstat(fd).st_nlink == 0
        assert pread_all(fd, 0, len(data)) == data
        # Still writable too.
        os.pwrite(fd, b"more", len(data))
        assert pread_all(fd, len(data) - 2, 10) == data[-2:] + b"more"
    finally:
        os.close(fd)
    assert os.listdir(volume.mnt) == []
    volume.umount()
    assert not set(volume.objects()).intersection(keys), "objects of the unlinked file remain"


def test_fsync_makes_writes_survive_a_killed_client(volume):
    path = volume.path("synced")
    data = os.urandom(5 * MiB + 123)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
        # The client dies without a chance to flush anything: only what fsync made durable
        # can be there after a remount.
        pid = volume.pid()
        pidfd = os.pidfd_open(pid)
        os.kill(pid, signal.SIGKILL)
        # A pidfd becomes readable when the process has exited.
        assert select.select([pidfd], [], [], 60)[0], "killed client did not exit"
        os.close(pidfd)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert not pid_alive(pid)
    subprocess.run(["umount", "-l", volume.mnt], check=True)
    volume.mount()
    assert os.stat(path).st_size == len(data)
    assert read_file(path) == data

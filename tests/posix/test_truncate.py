"""truncate(2)/ftruncate(2): growing reads zeros, shrinking forgets, times, errors."""
import errno
import os

from posix_helpers import err, read_file, tick, user_err, write_file


def test_grow_and_shrink(d):
    f = os.path.join(d, "f")
    write_file(f, b"a" * 1000)
    os.truncate(f, 5000)
    assert os.stat(f).st_size == 5000
    assert read_file(f) == b"a" * 1000 + bytes(4000)
    os.truncate(f, 10)
    assert read_file(f) == b"a" * 10
    # Data past a shrink must not come back when the file grows again.
    os.truncate(f, 2000)
    assert read_file(f) == b"a" * 10 + bytes(1990)
    os.truncate(f, 0)
    assert read_file(f) == b""


def test_ftruncate_with_buffered_writes(d):
    f = os.path.join(d, "f")
    fd = os.open(f, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"x" * 100_000)
    os.ftruncate(fd, 50)
    assert os.fstat(fd).st_size == 50
    os.pwrite(fd, b"y", 99)
    assert os.pread(fd, 200, 0) == b"x" * 50 + bytes(49) + b"y"
    os.close(fd)
    assert read_file(f) == b"x" * 50 + bytes(49) + b"y"


def test_large_sparse_truncate_across_chunks(d):
    f = os.path.join(d, "f")
    write_file(f, b"head")
    size = 200 * 1024 * 1024 + 7  # spans several 64 MiB chunks
    os.truncate(f, size)
    with open(f, "rb") as fh:
        fh.seek(size - 10)
        assert fh.read() == bytes(10)
        fh.seek(64 * 1024 * 1024 - 2)
        assert fh.read(4) == bytes(4)
    os.truncate(f, 3)
    assert read_file(f) == b"hea"


def test_truncate_updates_mtime_and_ctime(d):
    f = os.path.join(d, "f")
    write_file(f, b"abc")
    before = os.stat(f)
    tick()
    os.truncate(f, 1)
    after = os.stat(f)
    assert after.st_mtime_ns > before.st_mtime_ns
    assert after.st_ctime_ns > before.st_ctime_ns
    tick()
    fd = os.open(f, os.O_RDWR)
    os.ftruncate(fd, 100)
    st = os.fstat(fd)
    os.close(fd)
    assert st.st_mtime_ns > after.st_mtime_ns and st.st_ctime_ns > after.st_ctime_ns


def test_truncate_errors(d):
    f = os.path.join(d, "f")
    write_file(f, b"abc")
    assert err(os.truncate, d, 0) == errno.EISDIR
    assert err(os.truncate, os.path.join(d, "missing"), 0) == errno.ENOENT
    assert err(os.truncate, os.path.join(f, "x"), 0) == errno.ENOTDIR
    assert err(os.truncate, f, -1) == errno.EINVAL
    assert err(os.truncate, os.path.join(d, "n" * 256), 0) == errno.ENAMETOOLONG
    fd = os.open(f, os.O_RDONLY)
    try:
        assert err(os.ftruncate, fd, 0) == errno.EINVAL
    finally:
        os.close(fd)
    os.chmod(f, 0o644)
    assert user_err(lambda: os.truncate(f, 0)) == errno.EACCES
    os.chmod(f, 0o666)
    assert user_err(lambda: os.truncate(f, 1)) == 0
    assert os.stat(f).st_size == 1

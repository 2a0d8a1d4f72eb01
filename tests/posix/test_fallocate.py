"""posix_fallocate(3) and fallocate(2): allocation, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE."""
import errno
import os

from posix_helpers import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, err, fallocate,
                           read_file, tick, write_file)

PATTERN = bytes(range(256)) * 64  # 16 KiB


def test_posix_fallocate_extends(d):
    p = os.path.join(d, "f")
    write_file(p, b"abc")
    fd = os.open(p, os.O_RDWR)
    os.posix_fallocate(fd, 0, 1 << 20)
    assert os.fstat(fd).st_size == 1 << 20
    os.posix_fallocate(fd, 0, 10)  # inside: no change
    assert os.fstat(fd).st_size == 1 << 20
    os.close(fd)
    data = read_file(p)
    assert data[:3] == b"abc" and data[3:] == bytes((1 << 20) - 3)


def test_keep_size(d):
    p = os.path.join(d, "f")
    write_file(p, b"abc")
    fd = os.open(p, os.O_RDWR)
    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20)
    assert os.fstat(fd).st_size == 3
    os.close(fd)
    assert read_file(p) == b"abc"


def test_punch_hole_reads_zeros(d):
    p = os.path.join(d, "f")
    write_file(p, PATTERN)
    fd = os.open(p, os.O_RDWR)
    before = os.fstat(fd)
    tick()
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 5000)
    after = os.fstat(fd)
    assert after.st_size == len(PATTERN)
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns
    assert os.pread(fd, len(PATTERN), 0) == PATTERN[:1000] + bytes(5000) + PATTERN[6000:]
    os.close(fd)
    assert read_file(p) == PATTERN[:1000] + bytes(5000) + PATTERN[6000:]


def test_punch_hole_over_buffered_writes_and_past_eof(d):
    p = os.path.join(d, "f")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, PATTERN)  # still buffered in the client
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8000, 100000)
    assert os.fstat(fd).st_size == len(PATTERN)
    assert os.pread(fd, 1 << 20, 0) == PATTERN[:8000] + bytes(len(PATTERN) - 8000)
    os.close(fd)


def test_punch_hole_needs_keep_size(d):
    p = os.path.join(d, "f")
    write_file(p, PATTERN)
    fd = os.open(p, os.O_RDWR)
    try:
        assert err(fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 100) == errno.EOPNOTSUPP
    finally:
        os.close(fd)


def test_zero_range(d):
    p = os.path.join(d, "f")
    write_file(p, PATTERN)
    fd = os.open(p, os.O_RDWR)
    fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 200)
    assert os.pread(fd, len(PATTERN), 0) == PATTERN[:100] + bytes(200) + PATTERN[300:]
    # Past the end without KEEP_SIZE it extends the file with zeros.
    fallocate(fd, FALLOC_FL_ZERO_RANGE, len(PATTERN) - 10, 100)
    assert os.fstat(fd).st_size == len(PATTERN) + 90
    # With KEEP_SIZE the length stays.
    fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20)
    assert os.fstat(fd).st_size == len(PATTERN) + 90
    assert os.pread(fd, 1 << 20, 0) == bytes(len(PATTERN) + 90)
    os.close(fd)


def test_fallocate_errors(d):
    p = os.path.join(d, "f")
    write_file(p, b"x")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert err(fallocate, fd, 0, 0, 100) == errno.EBADF
        assert err(os.posix_fallocate, fd, 0, 100) == errno.EBADF
    finally:
        os.close(fd)
    fd = os.open(p, os.O_RDWR)
    try:
        assert err(fallocate, fd, 0, 0, 0) == errno.EINVAL
        assert err(fallocate, fd, 0, -1, 10) == errno.EINVAL
    finally:
        os.close(fd)
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    wr = os.open(fifo, os.O_WRONLY)
    try:
        assert err(fallocate, wr, 0, 0, 10) == errno.ESPIPE
    finally:
        os.close(wr)
        os.close(rd)

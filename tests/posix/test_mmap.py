"""mmap(2): shared writable mappings reach the file (read(2), other mappings, a remount)."""
import mmap
import os

from posix_helpers import read_file, write_file


def test_shared_mapping_write_msync_read_and_remount(volume, d):
    p = os.path.join(d, "f")
    size = 3 * 1024 * 1024 + 5000
    write_file(p, bytes(size))
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    pattern = os.urandom(8192)
    for off in (0, 4096 * 7 + 13, 1024 * 1024, size - len(pattern)):
        m[off:off + len(pattern)] = pattern
    m.flush()  # msync(MS_SYNC)
    expected = bytearray(size)
    for off in (0, 4096 * 7 + 13, 1024 * 1024, size - len(pattern)):
        expected[off:off + len(pattern)] = pattern
    # Visible to read(2) on another descriptor at once.
    assert read_file(p) == bytes(expected)
    # And a write(2) is visible in the mapping.
    os.pwrite(fd, b"WRITTEN", 100)
    assert m[100:107] == b"WRITTEN"
    expected[100:107] = b"WRITTEN"
    m.close()
    os.close(fd)
    volume.remount()
    assert read_file(p) == bytes(expected)


def test_private_mapping_does_not_write_back(d):
    p = os.path.join(d, "f")
    write_file(p, b"original" * 1000)
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, 8000, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
    m[0:8] = b"PRIVATE!"
    assert m[0:8] == b"PRIVATE!"
    m.close()
    os.close(fd)
    assert read_file(p) == b"original" * 1000


def test_mapping_grown_file(d):
    p = os.path.join(d, "f")
    write_file(p, b"x" * 10)
    fd = os.open(p, os.O_RDWR)
    os.ftruncate(fd, 1 << 20)
    m = mmap.mmap(fd, 1 << 20)
    m[(1 << 20) - 3:] = b"end"
    m.flush()
    m.close()
    os.close(fd)
    data = read_file(p)
    assert len(data) == 1 << 20 and data[:10] == b"x" * 10 and data[-3:] == b"end"
    assert data[10:-3] == bytes((1 << 20) - 13)

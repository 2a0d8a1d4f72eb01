"""copy_file_range(2): right content, done by sharing slices (checked with `sluice info`)."""
import os
import re

from posix_helpers import read_file, write_file


def slice_ids(info):
    return set(re.findall(r"slice (\d+) \(size", info))


def test_copy_whole_file_shares_slices(volume, d):
    src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
    data = os.urandom(3 * 1024 * 1024 + 123)
    write_file(src, data)
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_CREAT | os.O_WRONLY, 0o644)
    done = 0
    while done < len(data):
        n = os.copy_file_range(fi, fo, len(data) - done)
        assert n > 0
        done += n
    os.close(fi)
    os.close(fo)
    assert read_file(dst) == data
    src_ids, dst_ids = slice_ids(volume.info(src)), slice_ids(volume.info(dst))
    assert src_ids and dst_ids == src_ids
    # Changing the source afterwards does not change the copy.
    with open(src, "r+b") as f:
        f.write(b"X" * 100)
    assert read_file(dst) == data
    os.unlink(src)
    assert read_file(dst) == data


def test_copy_with_offsets_into_existing_file(d):
    src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
    write_file(src, b"0123456789" * 100)
    write_file(dst, b"a" * 50)
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_WRONLY)
    assert os.copy_file_range(fi, fo, 20, 5, 10) == 20
    assert os.copy_file_range(fi, fo, 10, 995, 100) == 5  # short at the source's end
    assert os.copy_file_range(fi, fo, 10, 2000, 0) == 0  # past the end
    os.close(fi)
    os.close(fo)
    expected = bytearray(b"a" * 50 + bytes(55))
    expected[10:30] = (b"0123456789" * 100)[5:25]
    expected[100:105] = b"56789"
    assert read_file(dst) == bytes(expected)


def test_copy_sees_unflushed_writes(d):
    src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
    fi = os.open(src, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fi, b"buffered data")
    fo = os.open(dst, os.O_CREAT | os.O_RDWR, 0o644)
    assert os.copy_file_range(fi, fo, 100, 0, 0) == 13
    assert os.pread(fo, 100, 0) == b"buffered data"
    os.close(fi)
    os.close(fo)

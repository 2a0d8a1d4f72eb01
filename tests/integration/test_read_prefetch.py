"""Read-ahead and random-read prefetch through a real mount, observed in the mount's own
counters (the virtual xattr `sluice.stats`): `block.readahead` counts whole blocks fetched
ahead of sequential readers, `block.prefetch` whole blocks fetched after random reads missed
them (`mount --prefetch N`, 0 disables), `object.get` every get from the object store."""

import hashlib
import os
import threading
import time

from conftest import MiB, sluice_error

BLOCK = 4 * MiB


def stats(volume):
    out = {}
    for line in os.getxattr(volume.mnt, "sluice.stats").decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[1].isdigit():
            out[f[0]] = int(f[1])
    return out


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def write_file(path, size):
    data = os.urandom(size)
    with open(path, "wb") as f:
        for off in range(0, size, MiB):
            f.write(data[off:off + MiB])
    return data


def pread_random(path, offset, length):
    """One read at `offset` with the kernel's read-ahead off for the descriptor."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def test_random_read_prefetches_the_whole_block(make_volume):
    volume = make_volume(mount=False)
    volume.mount_args = ("--prefetch", "1")
    volume.mount()
    path = volume.path("f")
    expected = write_file(path, 4 * BLOCK)
    volume.remount()  # cold: nothing cached in the mount, nor in the kernel
    before = stats(volume)
    at = 2 * BLOCK + 122_880  # page-aligned: one request
    assert pread_random(path, at, 4096) == expected[at:at + 4096]
    wait_for(lambda: stats(volume).get("block.prefetch", 0) > before.get("block.prefetch", 0),
             "the background fetch of the block")
    # The whole block is in the mount's cache now: further random reads in it get nothing.
    gets = stats(volume)["object.get"]
    for off in (2 * BLOCK, 2 * BLOCK + 999_424, 3 * BLOCK - 4096):
        assert pread_random(path, off, 4096) == expected[off:off + 4096]
    assert stats(volume)["object.get"] == gets
    assert stats(volume).get("block.prefetch", 0) == before.get("block.prefetch", 0) + 1


def test_prefetch_is_off_by_default_and_zero_fetches_only_what_is_read(make_volume):
    volume = make_volume(mount=False)
    volume.mount("--prefetch", "0")
    path = volume.path("f")
    expected = write_file(path, 2 * BLOCK)
    volume.umount()
    # The default: off (see docs/benchmarks.md: without a disk cache it costs). No disk cache
    # here either: it holds the blocks written above, and the gets counted are the backend's.
    volume.mount("--cache-size", "0")
    gets = stats(volume)["object.get"]
    for off in (BLOCK + 8192, BLOCK + 2_002_944, 77_824):
        assert pread_random(path, off, 4096) == expected[off:off + 4096]
    after = stats(volume)
    assert after.get("block.prefetch", 0) == 0
    # Each read was a ranged get of its own (header and segment, at most two gets).
    assert 3 <= after["object.get"] - gets <= 6


def test_prefetch_option_is_checked(make_volume):
    volume = make_volume(mount=False)
    line = sluice_error("mount", volume.meta_url, volume.mnt, "--prefetch", "65")
    assert "prefetch" in line


def test_concurrent_sequential_readers_get_intact_data(make_volume):
    # A small memory cache (read-ahead may hold 2 unread blocks) and six readers on three
    # files, two per file: read-ahead is shared and bounded, and every byte must come back.
    volume = make_volume(mount=False)
    volume.mount("--memory-cache-size", "16")
    sizes = [6 * BLOCK + 12345, 5 * BLOCK, 3 * BLOCK + 1]
    digests = {}
    for i, size in enumerate(sizes):
        digests[i] = hashlib.sha256(write_file(volume.path(f"f{i}"), size)).hexdigest()
    volume.umount()
    volume.mount("--memory-cache-size", "16")
    before = stats(volume)
    results, errors = {}, []

    def reader(i, k):
        try:
            h = hashlib.sha256()
            with open(volume.path(f"f{i}"), "rb", buffering=0) as f:
                while chunk := f.read(MiB):
                    h.update(chunk)
            results[(i, k)] = h.hexdigest()
        except Exception as e:  # reported below with the others
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i, k)) for i in range(3) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert all(results[(i, k)] == digests[i] for i in range(3) for k in range(2)), "a reader got wrong bytes"
    assert stats(volume).get("block.readahead", 0) > before.get("block.readahead", 0), "no read-ahead happened"

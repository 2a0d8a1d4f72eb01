"""The disk tier of the block cache (`--cache-dir`, `--cache-size`, `--free-space-ratio`) and
`sluice warmup`, on real mounts. Object-store traffic is read from the mount's counters
(`sluice.stats`): `object.get` counts the gets that reached the bucket."""

import os
import subprocess
import time

import pytest

from conftest import MiB, file_sha256, read_file, run_sluice, sluice, write_file

BLOCK = 4 * MiB


def stats(vol):
    out = {}
    for line in os.getxattr(vol.mnt, "sluice.stats").decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[1].isdigit():
            out[f[0]] = int(f[1])
    return out


def cache_files(*roots):
    """Cache files (not temporaries) below the roots, with their sizes."""
    out = {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if not f.startswith(".tmp."):
                    full = os.path.join(dirpath, f)
                    try:
                        out[full] = os.path.getsize(full)
                    except FileNotFoundError:
                        pass  # evicted meanwhile
    return out


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cached_key(path):
    """The object key a cache file holds (from its header)."""
    with open(path, "rb") as f:
        head = f.read(16)
        assert head[:4] == b"SLC\x01"
        return f.read(int.from_bytes(head[12:16], "big")).decode()


def test_cache_survives_a_remount_across_two_directories(make_volume):
    vol = make_volume(mount=False)
    a, b = os.path.join(vol.root, "cache-a"), os.path.join(vol.root, "cache-b")
    vol.mount_args = ("--cache-dir", f"{a}:{b}")
    vol.mount()
    data = os.urandom(10 * BLOCK + 12345)  # 11 blocks
    write_file(vol.path("f"), data)
    vol.remount()
    assert read_file(vol.path("f")) == data
    # Every block is cached by now (written and read), spread over both directories.
    wait_for(lambda: len(cache_files(a, b)) == 11, "11 cache files")
    assert cache_files(a) and cache_files(b)
    assert all(path.startswith((a + "/", b + "/")) for path in cache_files(a, b))

    vol.remount()
    before = stats(vol)
    assert read_file(vol.path("f")) == data
    with open(vol.path("f"), "rb") as f:  # random reads: ranged reads of the cache files
        for offset in (5 * BLOCK + 777, 123, 9 * BLOCK + 65536 * 3 + 5):
            f.seek(offset)
            assert f.read(4096) == data[offset:offset + 4096]
    after = stats(vol)
    assert after["object.get"] == before["object.get"], "reads after a remount reached the bucket"
    assert after["cache.hit"] > before["cache.hit"]


def test_damaged_cache_files_are_dropped_and_read_from_the_bucket(make_volume):
    vol = make_volume()
    data = os.urandom(4 * BLOCK)
    write_file(vol.path("f"), data)
    cache = vol.cache_dir
    wait_for(lambda: len(cache_files(cache)) == 4, "4 cache files")
    vol.umount()
    files = {cached_key(p): p for p in cache_files(cache)}
    by_index = {int(key.rsplit("_", 2)[1]): path for key, path in files.items()}
    raw = 1_000_000  # a byte of segment 15 of each block
    for index, path in by_index.items():
        key_length = len(cached_key(path).encode())
        table = 4 * (BLOCK // 65536)
        with open(path, "r+b") as f:
            f.seek(16 + key_length + 16 + table + raw)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    vol.mount()
    # Random reads touch the damaged segment through a ranged read of the cache file: the
    # codec's segment checksum catches it, the copy is dropped, the bucket's copy is read.
    for index in range(3):
        with open(vol.path("f"), "rb") as f:
            offset = index * BLOCK + raw - 100
            f.seek(offset)
            assert f.read(4096) == data[offset:offset + 4096]
        assert not os.path.exists(by_index[index]), f"damaged cache file of block {index} was kept"
    # A whole read of the last block: the cache file's own CRC catches it. The block is cached
    # again from the bucket's copy: the damaged byte must be gone.
    assert read_file(vol.path("f")) == data

    def repaired(path, index):
        try:
            with open(path, "rb") as f:
                f.seek(16 + len(cached_key(path).encode()) + 16 + 4 * (BLOCK // 65536) + raw)
                return f.read(1) == data[index * BLOCK + raw:index * BLOCK + raw + 1]
        except FileNotFoundError:
            return True
    for index in range(4):
        wait_for(lambda: repaired(by_index[index], index), f"block {index} dropped or cached anew")
    vol.remount()
    assert file_sha256(vol.path("f")) == file_sha256_bytes(data)


def file_sha256_bytes(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tmpfs(make_volume):
    """A volume (not mounted) and an 8 MiB tmpfs inside its directory."""
    vol = make_volume(mount=False)
    fs = os.path.join(vol.root, "tmpfs")
    os.mkdir(fs)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", fs], check=True)
    yield vol, fs
    if vol.mounted:
        vol.umount()
    subprocess.run(["umount", fs], check=True)


@pytest.mark.parametrize("ratio", ["0.1", "0"])
def test_a_tiny_cache_disk_evicts_and_reads_stay_correct(tmpfs, ratio):
    """With a free-space ratio the cache evicts before the disk fills; without one it runs
    into ENOSPC, which must evict too and never fail a read."""
    vol, fs = tmpfs
    vol.mount_args = ("--cache-dir", fs, "--cache-size", "1024", "--free-space-ratio", ratio)
    vol.mount()
    data = os.urandom(12 * BLOCK + 4321)
    write_file(vol.path("f"), data)
    for _ in range(2):
        vol.remount()
        assert read_file(vol.path("f")) == data
        with open(vol.path("f"), "rb") as f:
            for offset in range(0, len(data), 3 * BLOCK + 4097):
                f.seek(offset)
                assert f.read(8192) == data[offset:offset + 8192]
    # Cache files are written in the background: the disk is full by the time a few are.
    wait_for(lambda: stats(vol)["cache.evict"] > 0, "an eviction")
    files = cache_files(fs)
    if ratio == "0.1":
        assert len(files) >= 1
        # 10% of the disk kept free: one 4 MiB block at most fits in 8 MiB, besides the small
        # last one.
        assert len(files) <= 2
        assert sum(files.values()) <= 8 * MiB * 0.9
    vol.umount()
    assert "out of service" not in vol.read_log()


def test_cache_size_limits_usage(make_volume):
    vol = make_volume(mount=False)
    vol.mount_args = ("--cache-size", "9")  # room for two 4 MiB blocks
    vol.mount()
    data = os.urandom(8 * BLOCK)
    write_file(vol.path("f"), data)
    vol.remount()
    assert read_file(vol.path("f")) == data
    wait_for(lambda: stats(vol)["cache.write"] >= 2, "cache writes")
    files = cache_files(vol.cache_dir)
    assert 1 <= len(files) <= 2
    assert sum(files.values()) <= 9 * MiB
    assert stats(vol)["cache.evict"] > 0


def test_warmup_fills_the_cache(make_volume):
    vol = make_volume()
    os.mkdir(vol.path("d"))
    os.mkdir(vol.path("d", "sub"))
    files = {
        "d/one": os.urandom(5 * BLOCK + 1),
        "d/sub/two": os.urandom(70 * MiB),  # crosses a chunk boundary
        "d/empty": b"",
        "three": os.urandom(1000),
        "four": os.urandom(BLOCK),
    }
    for name, data in files.items():
        write_file(vol.path(name), data)
    os.symlink("three", vol.path("d", "link"))
    vol.umount()
    subprocess.run(["rm", "-rf", vol.cache_dir], check=True)
    vol.mount()
    out = sluice("warmup", "-p", "3", vol.path("d"), vol.path("three"))
    assert "warmed up 4 file(s)" in out, out
    before = stats(vol)
    for name in ("d/one", "d/sub/two", "d/empty", "three"):
        assert read_file(vol.path(name)) == files[name]
    after = stats(vol)
    assert after["object.get"] == before["object.get"], "reads after warmup reached the bucket"
    # What was not warmed up comes from the bucket.
    assert read_file(vol.path("four")) == files["four"]
    assert stats(vol)["object.get"] > after["object.get"]


def test_warmup_refuses_paths_off_sluice(make_volume, tmp_path):
    p = run_sluice("warmup", str(tmp_path))
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [f"sluice: {tmp_path} is not on a mounted Sluice volume"]
    p = run_sluice("warmup", str(tmp_path / "missing"))
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1

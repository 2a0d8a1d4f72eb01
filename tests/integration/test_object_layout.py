"""How data lands in the bucket: object sizes and names, `sluice info`'s keys, deletion."""

import os
import random

import pytest

from conftest import MiB, OBJECT_KEY, VOLUME_NAME, sluice

SIZES = {
    "zero": 0,
    "one": 1,
    "block-minus-1": 4 * MiB - 1,
    "block": 4 * MiB,
    "block-plus-1": 4 * MiB + 1,
    "ten-mib": 10 * MiB,
    "seventy-mib": 70 * MiB,  # crosses the 64 MiB chunk boundary
}


def info_keys(path):
    return [line.strip() for line in sluice("info", path).splitlines() if "/chunks/" in line]


def write_sequentially(path, size, rng):
    piece = rng.randbytes(MiB)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, MiB)
            f.write(piece[:n])
            left -= n


# Every stored (uncompressed) block starts with the block codec's 16-byte header (magic, codec,
# length, CRC) and a CRC-32 per 64 KiB segment.
def stored_size(length):
    return 16 + 4 * -(-length // (64 * 1024)) + length


def check_key(key, size_on_disk, block_size):
    m = OBJECT_KEY.match(key)
    assert m, f"object key {key!r} does not follow <volume>/chunks/<id/1e6>/<id/1e3>/<id>_<index>_<length>"
    slice_id = int(m["id"])
    assert m["vol"] == VOLUME_NAME
    assert int(m["d1"]) == slice_id // 1_000_000, key
    assert int(m["d2"]) == slice_id // 1_000, key
    length = int(m["len"])
    assert stored_size(length) == size_on_disk, f"{key}: name says {length} bytes, file has {size_on_disk}"
    assert 0 < length <= block_size, f"{key}: {length} bytes of data, block size {block_size}"
    return slice_id, int(m["index"]), length


@pytest.mark.parametrize("block_arg, block_size", [(None, 4 * MiB), ("1M", MiB)])
def test_objects_are_blocks_named_by_slice(make_volume, block_arg, block_size):
    volume = make_volume(format_args=("--block-size", block_arg) if block_arg else ())
    rng = random.Random(11)
    for name, size in SIZES.items():
        write_sequentially(volume.path(name), size, rng)
    objects = volume.objects()
    assert objects, "nothing was stored in the bucket"
    assert all(k.startswith(f"{VOLUME_NAME}/chunks/") for k in objects)

    listed = {}
    for name, size in SIZES.items():
        keys = info_keys(volume.path(name))
        assert len(keys) == len(set(keys)), f"{name}: info lists a key twice"
        for k in keys:
            assert k in objects, f"{name}: info lists {k}, which is not in the bucket"
        listed[name] = keys
        # The file's blocks, grouped by slice, cover each slice exactly: indexes 0..n-1, all
        # full blocks but the last; with one sequential write the slices cover the file.
        slices = {}
        for k in keys:
            sid, index, length = check_key(k, objects[k], block_size)
            slices.setdefault(sid, {})[index] = length
        total = 0
        for sid, blocks in slices.items():
            assert sorted(blocks) == list(range(len(blocks))), f"{name}: slice {sid} blocks {sorted(blocks)}"
            lengths = [blocks[i] for i in range(len(blocks))]
            assert all(n == block_size for n in lengths[:-1]), f"{name}: slice {sid} lengths {lengths}"
            total += sum(lengths)
        assert total == size, f"{name}: objects hold {total} bytes for a {size}-byte file"
        expected_blocks = sum(-(-n // block_size) for n in ([size] if size <= 64 * MiB else [64 * MiB, size - 64 * MiB]))
        assert len(keys) >= expected_blocks if size else keys == []

    # Every object belongs to exactly one file, and every object is one of theirs.
    all_listed = [k for keys in listed.values() for k in keys]
    assert sorted(all_listed) == sorted(objects)
    for k, n in objects.items():
        check_key(k, n, block_size)

    # The layout is the same after a remount, and info still agrees.
    volume.remount()
    assert volume.objects() == objects
    assert info_keys(volume.path("seventy-mib")) == listed["seventy-mib"]


def test_deleted_files_leave_no_objects_after_umount(volume):
    rng = random.Random(12)
    for name in ["keep", "delete-me", "overwrite-me", "truncate-me"]:
        write_sequentially(volume.path(name), 9 * MiB, rng)
    keys = {name: set(info_keys(volume.path(name))) for name in ["keep", "delete-me", "overwrite-me", "truncate-me"]}
    assert all(keys.values())
    os.unlink(volume.path("delete-me"))
    # Opening with O_TRUNC drops the old data too.
    with open(volume.path("overwrite-me"), "wb") as f:
        f.write(b"new")
    new_keys = set(info_keys(volume.path("overwrite-me")))
    volume.umount()
    remaining = set(volume.objects())
    assert not keys["delete-me"] & remaining, "objects of the deleted file remain after umount"
    assert not keys["overwrite-me"] & remaining, "objects of the truncated-by-open file remain after umount"
    assert keys["keep"] <= remaining
    assert new_keys <= remaining
    # Truncation to zero via truncate(2), and unlinking in a later session.
    volume.mount()
    os.truncate(volume.path("truncate-me"), 0)
    os.unlink(volume.path("keep"))
    volume.umount()
    remaining = set(volume.objects())
    assert not keys["truncate-me"] & remaining, "objects of the file truncated to 0 remain after umount"
    assert not keys["keep"] & remaining
    assert remaining == new_keys

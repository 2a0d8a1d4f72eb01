"""A 1 GiB file written sequentially, then overwritten at ~2000 random offsets, compared byte
for byte with a model, before and after a remount.

The model is sparse: it keeps no copy of the file, only the recipe. The sequential content of
every MiB is derived from a small pool of random blocks stamped with their position, and each
overwrite is recorded as (offset, length, source offset) into a random source buffer, so any
region's expected bytes can be rebuilt by replaying the overwrites that touch it.
"""

import hashlib
import os
import random
import struct
import time

from conftest import CHUNK, MiB

SIZE = 1 << 30
REGION = CHUNK  # bytes compared per hash
OVERWRITES = 2000
SEED = 20240611
STAMP_EVERY = 4096


class Model:
    def __init__(self, seed):
        rng = random.Random(seed)
        self.pool = [rng.randbytes(MiB) for _ in range(8)]
        self.source = rng.randbytes(2 * MiB)
        self.rng = rng
        self.ops = []  # (offset, length, source offset)

    def base(self, mib):
        """The sequentially written content of MiB number `mib`: a pool block with its file
        position stamped every 4 KiB, so a block landing at the wrong place shows."""
        b = bytearray(self.pool[(mib * 2654435761 >> 7) % len(self.pool)])
        start = mib * MiB
        for at in range(0, MiB, STAMP_EVERY):
            b[at:at + 8] = struct.pack(">Q", start + at)
        return b

    def next_overwrite(self, i):
        rng = self.rng
        if i % 100 == 0:
            # Straddle a chunk boundary now and then.
            boundary = rng.randrange(1, SIZE // CHUNK) * CHUNK
            length = rng.randrange(2, MiB + 1)
            offset = boundary - rng.randrange(1, length)
        else:
            length = min(MiB, int(2 ** rng.uniform(0, 20.0001)))
            offset = rng.randrange(0, SIZE - length + 1)
        src = rng.randrange(0, len(self.source) - length + 1)
        self.ops.append((offset, length, src))
        return offset, self.source[src:src + length]

    def region(self, start, length):
        out = bytearray()
        for mib in range(start // MiB, (start + length) // MiB):
            out += self.base(mib)
        end = start + length
        for offset, n, src in self.ops:
            lo, hi = max(offset, start), min(offset + n, end)
            if lo < hi:
                out[lo - start:hi - start] = self.source[src + lo - offset:src + hi - offset]
        return bytes(out)


def region_hashes_of_file(path):
    hashes = []
    fd = os.open(path, os.O_RDONLY)
    try:
        for start in range(0, SIZE, REGION):
            h = hashlib.sha256()
            done = 0
            while done < REGION:
                b = os.pread(fd, 4 * MiB, start + done)
                assert b, f"short read at {start + done}"
                h.update(b)
                done += len(b)
            hashes.append(h.hexdigest())
        assert os.pread(fd, 1, SIZE) == b""
    finally:
        os.close(fd)
    return hashes


def test_one_gib_random_overwrites(volume):
    t0 = time.monotonic()
    model = Model(SEED)
    path = volume.path("big.bin")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        for mib in range(SIZE // MiB):
            assert os.write(fd, model.base(mib)) == MiB
        t_seq = time.monotonic()
        for i in range(OVERWRITES):
            offset, data = model.next_overwrite(i)
            assert os.pwrite(fd, data, offset) == len(data)
        t_rand = time.monotonic()
    finally:
        os.close(fd)
    assert os.stat(path).st_size == SIZE

    expected = [hashlib.sha256(model.region(s, REGION)).hexdigest() for s in range(0, SIZE, REGION)]
    t_model = time.monotonic()
    got = region_hashes_of_file(path)
    bad = [i for i, (a, b) in enumerate(zip(expected, got)) if a != b]
    assert not bad, f"regions {bad} (64 MiB each) differ from the model before remount"
    t_read = time.monotonic()

    volume.remount()
    got = region_hashes_of_file(path)
    bad = [i for i, (a, b) in enumerate(zip(expected, got)) if a != b]
    assert not bad, f"regions {bad} (64 MiB each) differ from the model after remount"
    t_end = time.monotonic()
    print(f"sequential write {t_seq - t0:.1f}s, {OVERWRITES} overwrites "
          f"({sum(op[1] for op in model.ops) / MiB:.0f} MiB) {t_rand - t_seq:.1f}s, model {t_model - t_rand:.1f}s, "
          f"read {t_read - t_model:.1f}s, remount+read {t_end - t_read:.1f}s")

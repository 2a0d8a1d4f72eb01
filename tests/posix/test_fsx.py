"""An fsx-style exerciser: thousands of random writes, truncations, hole punches, zero
ranges, mmap writes and reads on one file, each checked against an in-memory model; the file
is closed and reopened now and then, and the volume remounted once in the middle."""
import mmap
import os
import random

import pytest

from posix_helpers import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, fallocate

MAX_SIZE = 4 << 20
OPS = 1500


class Exerciser:
    def __init__(self, volume, path, seed):
        self.volume = volume
        self.path = path
        self.rng = random.Random(seed)
        self.model = bytearray()
        self.fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
        self.log = []

    def note(self, *what):
        self.log.append(what)
        del self.log[:-30]

    def fail(self, message):
        raise AssertionError(f"{message}\nlast operations (newest last):\n" + "\n".join(map(str, self.log)))

    def span(self, max_len):
        off = self.rng.randrange(0, MAX_SIZE)
        length = self.rng.randrange(1, max_len)
        return off, min(length, MAX_SIZE - off)

    def op_write(self):
        off, length = self.span(200_000)
        data = self.rng.randbytes(length)
        self.note("write", off, length)
        assert os.pwrite(self.fd, data, off) == length
        if off > len(self.model):
            self.model.extend(bytes(off - len(self.model)))
        self.model[off:off + length] = data

    def op_truncate(self):
        size = self.rng.randrange(0, MAX_SIZE)
        self.note("truncate", size)
        os.ftruncate(self.fd, size)
        if size < len(self.model):
            del self.model[size:]
        else:
            self.model.extend(bytes(size - len(self.model)))

    def op_punch(self):
        off, length = self.span(500_000)
        self.note("punch", off, length)
        fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length)
        end = min(off + length, len(self.model))
        if off < end:
            self.model[off:end] = bytes(end - off)

    def op_zero(self):
        off, length = self.span(500_000)
        keep = self.rng.random() < 0.5
        self.note("zero", off, length, "keep" if keep else "extend")
        fallocate(self.fd, FALLOC_FL_ZERO_RANGE | (FALLOC_FL_KEEP_SIZE if keep else 0), off, length)
        end = min(off + length, len(self.model))
        if off < end:
            self.model[off:end] = bytes(end - off)
        if not keep and off + length > len(self.model):
            self.model.extend(bytes(off + length - len(self.model)))

    def op_mmap_write(self):
        size = len(self.model)
        if size == 0:
            return self.op_write()
        off = self.rng.randrange(0, size)
        length = min(self.rng.randrange(1, 100_000), size - off)
        data = self.rng.randbytes(length)
        self.note("mapwrite", off, length)
        m = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            m[off:off + length] = data
            m.flush()
        finally:
            m.close()
        self.model[off:off + length] = data

    def op_read(self):
        off, length = self.span(300_000)
        self.note("read", off, length)
        got = os.pread(self.fd, length, off)
        want = bytes(self.model[off:off + length])
        if got != want:
            self.fail(f"read at {off} of {length}: got {len(got)} bytes, want {len(want)}; "
                      f"first difference at {first_difference(got, want) + off}")

    def check_size(self):
        size = os.fstat(self.fd).st_size
        if size != len(self.model):
            self.fail(f"size {size}, model {len(self.model)}")

    def reopen(self):
        self.note("reopen")
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDWR)

    def verify_all(self, what):
        self.check_size()
        with open(self.path, "rb") as f:
            got = f.read()
        if got != bytes(self.model):
            self.fail(f"{what}: whole-file compare differs at {first_difference(got, bytes(self.model))} "
                      f"(sizes {len(got)} and {len(self.model)})")

    def run(self, ops, remount_at=None):
        choices = [self.op_write] * 5 + [self.op_read] * 4 + [self.op_truncate, self.op_punch, self.op_zero,
                                                                self.op_mmap_write, self.op_mmap_write]
        for i in range(ops):
            self.rng.choice(choices)()
            if i % 50 == 0:
                self.check_size()
            if self.rng.random() < 0.01:
                self.reopen()
            if i == remount_at:
                self.note("remount")
                os.close(self.fd)
                self.volume.remount()
                self.fd = os.open(self.path, os.O_RDWR)
                self.verify_all("after remount")
        self.verify_all("at the end")
        os.close(self.fd)


def first_difference(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fsx(volume, d, seed):
    path = os.path.join(d, "fsx")
    ex = Exerciser(volume, path, seed)
    ex.run(OPS, remount_at=OPS // 2 if seed == 1 else None)
    # The final content survives a remount.
    volume.remount()
    with open(path, "rb") as f:
        assert f.read() == bytes(ex.model)

"""Everything written is identical after umount and mount."""

import os
import random

from conftest import CHUNK, MiB, tree_digest, write_file


def build_tree(root, rng):
    os.makedirs(os.path.join(root, "a", "b", "c"))
    os.makedirs(os.path.join(root, "empty"))
    os.makedirs(os.path.join(root, "wide"))
    sizes = [0, 1, 100, 4095, 4096, 4097, MiB, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 7]
    for i, size in enumerate(sizes):
        write_file(os.path.join(root, "a", f"f{i}"), rng.randbytes(size))
    for i in range(200):
        write_file(os.path.join(root, "wide", f"n{i:03d}"), rng.randbytes(rng.randrange(0, 3000)))
    write_file(os.path.join(root, "a", "b", "c", "deep"), b"deep file\n")
    # A file patched in place, appended to, and truncated.
    p = os.path.join(root, "a", "patched")
    write_file(p, rng.randbytes(3 * MiB))
    with open(p, "r+b") as f:
        for _ in range(30):
            f.seek(rng.randrange(0, 3 * MiB))
            f.write(rng.randbytes(rng.randrange(1, 70000)))
    with open(p, "ab") as f:
        f.write(b"appended")
    os.truncate(p, 2 * MiB + 11)
    # Sparse across a chunk boundary.
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.seek(CHUNK - 10)
        f.write(b"across the boundary")
    os.symlink("a/b/c/deep", os.path.join(root, "link"))
    os.symlink("/nonexistent/target", os.path.join(root, "dangling"))
    os.link(os.path.join(root, "a", "f2"), os.path.join(root, "hard"))
    os.chmod(os.path.join(root, "a", "f1"), 0o600)
    os.chmod(os.path.join(root, "a", "b"), 0o750)
    os.chmod(os.path.join(root, "a", "f3"), 0o4755)
    os.chown(os.path.join(root, "a", "f4"), 1234, 5678)
    os.utime(os.path.join(root, "a", "f5"), ns=(1_000_000_123, 1_500_000_000_987_654_321))
    os.rename(os.path.join(root, "a", "f6"), os.path.join(root, "renamed"))
    os.unlink(os.path.join(root, "a", "f7"))


def test_tree_identical_after_remount(volume):
    # Reading must not change what is compared: with relatime (the default, as on ext4) the
    # first read of a file whose atime is older than its mtime would move the atime.
    volume.mount_args = ("--atime-mode", "noatime")
    volume.remount()
    rng = random.Random(99)
    build_tree(volume.mnt, rng)
    before = tree_digest(volume.mnt)
    assert len(before) > 200
    st = os.stat(volume.path("a", "f5"))
    assert st.st_mtime_ns == 1_500_000_000_987_654_321
    volume.remount()
    after = tree_digest(volume.mnt)
    assert after.keys() == before.keys()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"changed by the remount: {changed}"
    # And a second time, after reading everything once.
    volume.remount()
    assert tree_digest(volume.mnt) == before
    assert os.stat(volume.path("a", "f5")).st_atime_ns == 1_000_000_123


def test_files_closed_just_before_umount_persist(volume):
    """Many small files written and closed right before umount are all there after it."""
    rng = random.Random(3)
    files = {f"f{i}": rng.randbytes(rng.randrange(1, 200_000)) for i in range(100)}
    for name, data in files.items():
        write_file(volume.path(name), data)
    volume.remount()
    for name, data in files.items():
        with open(volume.path(name), "rb") as f:
            assert f.read() == data, name

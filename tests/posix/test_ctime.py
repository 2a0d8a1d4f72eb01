"""ctime moves on every change of an inode, seen at once (no waiting for attribute caches),
through the name changed and through every other name of the inode; mtime moves with data."""
import os

from posix_helpers import tick, write_file


def changed(path, op, mtime_too=False):
    before = os.stat(path)
    tick()
    op()
    after = os.stat(path)
    assert after.st_ctime_ns > before.st_ctime_ns, f"ctime did not move ({op})"
    if mtime_too:
        assert after.st_mtime_ns > before.st_mtime_ns, f"mtime did not move ({op})"
    return after


def test_ctime_on_every_metadata_change(d):
    p = os.path.join(d, "f")
    write_file(p, b"data")
    other = os.path.join(d, "other-name")
    changed(p, lambda: os.chmod(p, 0o600))
    changed(p, lambda: os.chown(p, 1, 1))
    changed(p, lambda: os.link(p, other))
    changed(p, lambda: os.unlink(other))
    before = os.stat(p)
    tick()
    os.rename(p, p + ".moved")
    assert os.stat(p + ".moved").st_ctime_ns > before.st_ctime_ns
    os.rename(p + ".moved", p)
    changed(p, lambda: os.truncate(p, 2), mtime_too=True)
    changed(p, lambda: os.setxattr(p, "user.x", b"1"))
    changed(p, lambda: os.removexattr(p, "user.x"))
    changed(p, lambda: os.utime(p, ns=(5, 5)))


def test_write_moves_mtime_and_ctime_before_close(d):
    p = os.path.join(d, "f")
    write_file(p, b"data")
    fd = os.open(p, os.O_WRONLY)
    try:
        before = os.fstat(fd)
        tick()
        os.write(fd, b"more")
        after = os.fstat(fd)
        assert after.st_mtime_ns > before.st_mtime_ns
        assert after.st_ctime_ns > before.st_ctime_ns
        # And through the path, from another descriptor.
        st = os.stat(p)
        assert st.st_mtime_ns > before.st_mtime_ns
    finally:
        os.close(fd)
    # Closing does not move the times again past what the write set... but never backwards.
    st = os.stat(p)
    assert st.st_mtime_ns >= after.st_mtime_ns


def test_write_moves_times_with_writeback_then_close(d):
    p = os.path.join(d, "f")
    write_file(p, b"x")
    before = os.stat(p)
    tick()
    with open(p, "ab") as f:
        f.write(b"y")
    after = os.stat(p)
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns


def test_other_names_see_changes_at_once(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a)
    os.link(a, b)
    os.stat(b)  # cached by the kernel now
    for op in (lambda: os.chmod(a, 0o640), lambda: os.chown(a, 7, 7), lambda: os.setxattr(a, "user.y", b"2"),
               lambda: os.truncate(a, 10), lambda: os.utime(a, ns=(1, 1))):
        before = os.stat(b)
        tick()
        op()
        assert os.stat(b).st_ctime_ns > before.st_ctime_ns
    assert os.stat(b).st_mode & 0o777 == 0o640
    assert (os.stat(b).st_uid, os.stat(b).st_size) == (7, 10)


def test_directory_times_on_entry_changes(d):
    p = os.path.join(d, "f")
    changed(d, lambda: write_file(p), mtime_too=True)
    changed(d, lambda: os.rename(p, os.path.join(d, "g")), mtime_too=True)
    changed(d, lambda: os.symlink("x", os.path.join(d, "s")), mtime_too=True)
    changed(d, lambda: os.unlink(os.path.join(d, "s")), mtime_too=True)
    changed(d, lambda: os.chmod(d, 0o700))

"""utimensat(2)/futimens(3)/utimes: nanosecond timestamps, UTIME_NOW/UTIME_OMIT, who may set
which times."""
import errno
import os
import time

from posix_helpers import (AT_SYMLINK_NOFOLLOW, UTIME_NOW, UTIME_OMIT, as_user, err, tick, user_err, utimensat,
                           write_file)


def test_nanosecond_times(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.utime(p, ns=(1_234_567_890_123_456_789, 1_500_000_000_987_654_321))
    st = os.stat(p)
    assert st.st_atime_ns == 1_234_567_890_123_456_789
    assert st.st_mtime_ns == 1_500_000_000_987_654_321
    # Far past and future.
    os.utime(p, ns=(0, 4_102_444_800_000_000_001))
    st = os.stat(p)
    assert (st.st_atime_ns, st.st_mtime_ns) == (0, 4_102_444_800_000_000_001)
    os.utime(p, ns=(-1_000_000_000, -123))
    st = os.stat(p)
    assert (st.st_atime_ns, st.st_mtime_ns) == (-1_000_000_000, -123)


def test_new_files_have_nanosecond_times(d):
    times = set()
    for i in range(5):
        p = os.path.join(d, f"f{i}")
        write_file(p)
        times.add(os.stat(p).st_mtime_ns % 1_000_000_000)
    assert any(t % 1000 != 0 for t in times), "timestamps look truncated to microseconds or coarser"


def test_utime_now_and_omit(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.utime(p, ns=(10, 20))
    utimensat(p, (0, UTIME_OMIT), (0, UTIME_OMIT))
    assert (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) == (10, 20)
    lo = time.time_ns()
    utimensat(p, (0, UTIME_NOW), (0, UTIME_OMIT))
    st = os.stat(p)
    assert st.st_atime_ns >= lo - 10_000_000 and st.st_mtime_ns == 20
    utimensat(p, (5, 6), (0, UTIME_NOW))
    st = os.stat(p)
    assert st.st_atime_ns == 5_000_000_006 and st.st_mtime_ns >= lo - 10_000_000
    os.utime(p, ns=(10, 20))
    os.utime(p)  # both now
    st = os.stat(p)
    assert st.st_atime_ns >= lo - 10_000_000 and st.st_mtime_ns >= lo - 10_000_000


def test_utime_updates_ctime(d):
    p = os.path.join(d, "f")
    write_file(p)
    c = os.stat(p).st_ctime_ns
    tick()
    os.utime(p, ns=(1, 2))
    c2 = os.stat(p).st_ctime_ns
    assert c2 > c
    tick()
    utimensat(p, (0, UTIME_OMIT), (0, UTIME_NOW))
    assert os.stat(p).st_ctime_ns > c2


def test_futimens_and_symlink_nofollow(d):
    p = os.path.join(d, "f")
    write_file(p)
    fd = os.open(p, os.O_RDONLY)
    os.utime(fd, ns=(111, 222))
    os.close(fd)
    assert (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) == (111, 222)
    ln = os.path.join(d, "l")
    os.symlink("f", ln)
    utimensat(ln, (7, 8), (9, 10), AT_SYMLINK_NOFOLLOW)
    assert (os.lstat(ln).st_atime_ns, os.lstat(ln).st_mtime_ns) == (7_000_000_008, 9_000_000_010)
    assert (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) == (111, 222)


def test_utime_permissions(d):
    p = os.path.join(d, "f")
    write_file(p, mode=0o644)
    # Not the owner and no write permission: even "now" is refused.
    assert user_err(lambda: os.utime(p)) == errno.EACCES
    assert user_err(lambda: os.utime(p, ns=(1, 1))) == errno.EPERM
    # Write permission allows "now" but not explicit times.
    os.chmod(p, 0o666)
    assert user_err(lambda: os.utime(p)) == 0
    assert user_err(lambda: utimensat(p, (0, UTIME_NOW), (0, UTIME_NOW))) == 0
    assert user_err(lambda: os.utime(p, ns=(1, 1))) == errno.EPERM
    # The owner may set anything.
    os.chown(p, 65534, 65534)
    os.chmod(p, 0o444)
    as_user(lambda: os.utime(p, ns=(3, 4)))
    assert (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) == (3, 4)
    assert err(os.utime, os.path.join(d, "missing")) == errno.ENOENT

"""mkdir(2): modes, link counts, parent times, setgid inheritance, errors."""
import errno
import os
import stat

from posix_helpers import NOBODY, as_user, err, tick, user_err, write_file


def test_mkdir_mode_and_umask(d):
    os.umask(0o027)
    os.mkdir(os.path.join(d, "a"), 0o777)
    st = os.stat(os.path.join(d, "a"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    os.umask(0)
    os.mkdir(os.path.join(d, "b"), 0o1777)
    assert stat.S_IMODE(os.stat(os.path.join(d, "b")).st_mode) == 0o1777
    assert os.stat(os.path.join(d, "b")).st_uid == 0


def test_directory_nlink_counts_subdirectories(d):
    assert os.stat(d).st_nlink == 2
    for i in range(3):
        os.mkdir(os.path.join(d, f"s{i}"))
    write_file(os.path.join(d, "file"))
    assert os.stat(d).st_nlink == 5
    assert os.stat(os.path.join(d, "s0")).st_nlink == 2
    os.rmdir(os.path.join(d, "s1"))
    assert os.stat(d).st_nlink == 4
    os.rename(os.path.join(d, "s2"), os.path.join(d, "s0", "moved"))
    assert os.stat(d).st_nlink == 3
    assert os.stat(os.path.join(d, "s0")).st_nlink == 3
    assert os.stat(os.path.join(d, "s0", "moved", "..")).st_ino == os.stat(os.path.join(d, "s0")).st_ino


def test_mkdir_updates_parent_times(d):
    before = os.stat(d)
    tick()
    os.mkdir(os.path.join(d, "a"))
    after = os.stat(d)
    assert after.st_mtime_ns > before.st_mtime_ns
    assert after.st_ctime_ns > before.st_ctime_ns
    st = os.stat(os.path.join(d, "a"))
    assert st.st_atime_ns == st.st_mtime_ns == st.st_ctime_ns


def test_mkdir_errors(d):
    f = os.path.join(d, "f")
    write_file(f)
    os.mkdir(os.path.join(d, "a"))
    os.symlink("nowhere", os.path.join(d, "dangling"))
    assert err(os.mkdir, os.path.join(d, "a")) == errno.EEXIST
    assert err(os.mkdir, f) == errno.EEXIST
    assert err(os.mkdir, os.path.join(d, "dangling")) == errno.EEXIST
    assert err(os.mkdir, os.path.join(d, "missing", "x")) == errno.ENOENT
    assert err(os.mkdir, os.path.join(f, "x")) == errno.ENOTDIR
    assert err(os.mkdir, os.path.join(d, "m" * 256)) == errno.ENAMETOOLONG
    os.mkdir(os.path.join(d, "m" * 255))
    assert user_err(lambda: os.mkdir(os.path.join(d, "x"))) == errno.EACCES


def test_setgid_directory_passes_its_group(d):
    top = os.path.join(d, "top")
    os.mkdir(top)
    os.chown(top, NOBODY, 4242)
    os.chmod(top, 0o2777)
    # Created by nobody (gid 65534), everything gets the directory's group; subdirectories
    # are setgid themselves.
    as_user(lambda: os.mkdir(os.path.join(top, "sub")))
    as_user(lambda: write_file(os.path.join(top, "file")))
    sub = os.stat(os.path.join(top, "sub"))
    assert sub.st_gid == 4242 and sub.st_mode & stat.S_ISGID
    assert os.stat(os.path.join(top, "file")).st_gid == 4242
    os.mkdir(os.path.join(top, "rootsub"))
    assert os.stat(os.path.join(top, "rootsub")).st_gid == 4242
    # Without setgid the creator's group is used.
    plain = os.path.join(d, "plain")
    os.mkdir(plain, 0o777)
    os.chmod(plain, 0o777)
    as_user(lambda: write_file(os.path.join(plain, "file")))
    assert os.stat(os.path.join(plain, "file")).st_gid == NOBODY

"""symlink(2)/readlink(2): targets kept byte for byte, lstat, loops through the kernel."""
import errno
import os
import stat

from posix_helpers import err, read_file, tick, write_file


def test_symlink_basics(d):
    write_file(os.path.join(d, "f"), b"content")
    p = os.path.join(d, "l")
    before = os.stat(d)
    tick()
    os.symlink("f", p)
    st = os.lstat(p)
    assert stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o777
    assert st.st_size == 1 and st.st_nlink == 1
    assert os.readlink(p) == "f"
    assert read_file(p) == b"content"
    after = os.stat(d)
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns


def test_symlink_targets(d):
    for i, target in enumerate([b"/absolute/path", b"../up/../down", b"dangling", b"\xff\xfe odd bytes",
                                b"t" * 4095]):
        p = os.path.join(os.fsencode(d), b"l%d" % i)
        os.symlink(target, p)
        assert os.readlink(p) == target
        assert os.lstat(p).st_size == len(target)
    assert err(os.symlink, "t" * 4096, os.path.join(d, "toolong")) == errno.ENAMETOOLONG


def test_symlink_to_directory_and_chain(d):
    os.makedirs(os.path.join(d, "real", "deep"))
    write_file(os.path.join(d, "real", "deep", "f"), b"x")
    os.symlink("real", os.path.join(d, "l1"))
    os.symlink("l1/deep", os.path.join(d, "l2"))
    assert read_file(os.path.join(d, "l2", "f")) == b"x"
    assert sorted(os.listdir(os.path.join(d, "l1"))) == ["deep"]


def test_eloop_through_the_kernel(d):
    os.symlink("b", os.path.join(d, "a"))
    os.symlink("a", os.path.join(d, "b"))
    assert err(os.stat, os.path.join(d, "a")) == errno.ELOOP
    assert err(os.open, os.path.join(d, "a", "x"), os.O_RDONLY) == errno.ELOOP
    os.symlink("self", os.path.join(d, "self"))
    assert err(os.stat, os.path.join(d, "self")) == errno.ELOOP
    # A chain longer than the kernel's 40 follows is a loop too; 40 is fine.
    write_file(os.path.join(d, "end"), b"e")
    prev = "end"
    for i in range(41):
        os.symlink(prev, os.path.join(d, f"c{i}"))
        prev = f"c{i}"
    assert read_file(os.path.join(d, "c39")) == b"e"
    assert err(os.stat, os.path.join(d, "c40")) == errno.ELOOP


def test_symlink_errors(d):
    write_file(os.path.join(d, "f"))
    os.mkdir(os.path.join(d, "dir"))
    assert err(os.symlink, "x", os.path.join(d, "f")) == errno.EEXIST
    assert err(os.symlink, "x", os.path.join(d, "dir")) == errno.EEXIST
    os.symlink("x", os.path.join(d, "l"))
    assert err(os.symlink, "y", os.path.join(d, "l")) == errno.EEXIST
    assert err(os.symlink, "x", os.path.join(d, "missing", "l")) == errno.ENOENT
    assert err(os.symlink, "x", os.path.join(d, "f", "l")) == errno.ENOTDIR
    assert err(os.symlink, "x", os.path.join(d, "s" * 256)) == errno.ENAMETOOLONG
    assert err(os.symlink, "", os.path.join(d, "empty")) == errno.ENOENT
    assert err(os.readlink, os.path.join(d, "f")) == errno.EINVAL

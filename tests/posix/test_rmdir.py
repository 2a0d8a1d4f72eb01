"""rmdir(2): removal, link counts, parent times, errors."""
import errno
import os

from posix_helpers import err, tick, user_err, write_file


def test_rmdir_removes_and_updates_parent(d):
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    before = os.stat(d)
    tick()
    os.rmdir(sub)
    after = os.stat(d)
    assert not os.path.exists(sub)
    assert after.st_nlink == before.st_nlink - 1
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns


def test_rmdir_of_directory_in_use(d):
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.rmdir(sub)
        # As on ext4: a removed directory lists empty, takes no new entries, has nlink 0.
        assert os.listdir(fd) == []
        assert err(os.open, "new", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd) == errno.ENOENT
        assert err(os.mkdir, "newdir", dir_fd=fd) == errno.ENOENT
        assert os.fstat(fd).st_nlink == 0
    finally:
        os.close(fd)


def test_rmdir_errors(d):
    f = os.path.join(d, "f")
    write_file(f)
    full = os.path.join(d, "full")
    os.makedirs(os.path.join(full, "x"))
    assert err(os.rmdir, full) == errno.ENOTEMPTY
    withfile = os.path.join(d, "withfile")
    os.mkdir(withfile)
    write_file(os.path.join(withfile, "f"))
    assert err(os.rmdir, withfile) == errno.ENOTEMPTY
    assert err(os.rmdir, f) == errno.ENOTDIR
    assert err(os.rmdir, os.path.join(f, "x")) == errno.ENOTDIR
    assert err(os.rmdir, os.path.join(d, "missing")) == errno.ENOENT
    assert err(os.rmdir, os.path.join(full, ".")) == errno.EINVAL
    assert err(os.rmdir, os.path.join(full, "x", "..")) == errno.ENOTEMPTY
    assert err(os.rmdir, os.path.join(d, "n" * 256)) == errno.ENAMETOOLONG
    os.symlink("full", os.path.join(d, "link"))
    assert err(os.rmdir, os.path.join(d, "link")) == errno.ENOTDIR
    assert user_err(lambda: os.rmdir(os.path.join(full, "x"))) == errno.EACCES
    assert os.path.isdir(os.path.join(full, "x"))

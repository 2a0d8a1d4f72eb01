"""rename(2) and renameat2(2): replacement rules, directories, times, flags, errors."""
import errno
import os
import stat

from posix_helpers import RENAME_EXCHANGE, RENAME_NOREPLACE, err, read_file, renameat2, tick, user_err, write_file


def test_rename_file_and_replace(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a, b"A")
    write_file(b, b"B")
    ino = os.stat(a).st_ino
    os.rename(a, b)
    assert not os.path.exists(a)
    assert read_file(b) == b"A" and os.stat(b).st_ino == ino
    assert sorted(os.listdir(d)) == ["b"]


def test_rename_replaced_file_open_stays_readable(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a, b"new")
    write_file(b, b"old")
    fd = os.open(b, os.O_RDONLY)
    os.rename(a, b)
    assert os.fstat(fd).st_nlink == 0
    assert os.read(fd, 10) == b"old"
    os.close(fd)
    assert read_file(b) == b"new"


def test_rename_directories(d):
    src = os.path.join(d, "src")
    os.makedirs(os.path.join(src, "inner"))
    write_file(os.path.join(src, "inner", "f"), b"x")
    dst_parent = os.path.join(d, "dst")
    os.mkdir(dst_parent)
    os.rename(src, os.path.join(dst_parent, "moved"))
    assert read_file(os.path.join(dst_parent, "moved", "inner", "f")) == b"x"
    assert os.stat(os.path.join(dst_parent, "moved", "..")).st_ino == os.stat(dst_parent).st_ino
    assert os.stat(dst_parent).st_nlink == 3
    assert os.stat(d).st_nlink == 3
    # Replacing an empty directory.
    os.mkdir(os.path.join(d, "empty"))
    os.rename(os.path.join(dst_parent, "moved"), os.path.join(d, "empty"))
    assert os.path.isfile(os.path.join(d, "empty", "inner", "f"))
    assert os.stat(d).st_nlink == 4  # "dst" and "empty" (now the moved one)
    assert os.stat(dst_parent).st_nlink == 2


def test_rename_times(d):
    a = os.path.join(d, "a")
    write_file(a)
    other = os.path.join(d, "other")
    os.mkdir(other)
    st_file, st_d, st_o = os.stat(a), os.stat(d), os.stat(other)
    tick()
    os.rename(a, os.path.join(other, "a"))
    f2, d2, o2 = os.stat(os.path.join(other, "a")), os.stat(d), os.stat(other)
    assert f2.st_ctime_ns > st_file.st_ctime_ns
    assert f2.st_mtime_ns == st_file.st_mtime_ns
    assert d2.st_mtime_ns > st_d.st_mtime_ns and d2.st_ctime_ns > st_d.st_ctime_ns
    assert o2.st_mtime_ns > st_o.st_mtime_ns and o2.st_ctime_ns > st_o.st_ctime_ns


def test_rename_symlink_and_special(d):
    os.symlink("target", os.path.join(d, "l"))
    os.rename(os.path.join(d, "l"), os.path.join(d, "l2"))
    assert os.readlink(os.path.join(d, "l2")) == "target"
    os.mkfifo(os.path.join(d, "p"))
    os.rename(os.path.join(d, "p"), os.path.join(d, "p2"))
    assert stat.S_ISFIFO(os.lstat(os.path.join(d, "p2")).st_mode)


def test_rename_hard_links_of_one_inode_is_noop(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a)
    os.link(a, b)
    os.rename(a, b)
    assert os.path.exists(a) and os.path.exists(b)
    assert os.stat(a).st_nlink == 2


def test_rename_errors(d):
    f = os.path.join(d, "f")
    write_file(f)
    full = os.path.join(d, "full")
    os.makedirs(os.path.join(full, "x"))
    empty = os.path.join(d, "empty")
    os.mkdir(empty)
    assert err(os.rename, os.path.join(d, "missing"), os.path.join(d, "y")) == errno.ENOENT
    assert err(os.rename, f, os.path.join(d, "nodir", "y")) == errno.ENOENT
    assert err(os.rename, empty, full) == errno.ENOTEMPTY
    assert err(os.rename, f, empty) == errno.EISDIR
    assert err(os.rename, empty, f) == errno.ENOTDIR
    assert err(os.rename, os.path.join(f, "x"), os.path.join(d, "y")) == errno.ENOTDIR
    assert err(os.rename, full, os.path.join(full, "x", "inside")) == errno.EINVAL
    assert err(os.rename, full, os.path.join(full, "inside")) == errno.EINVAL
    assert err(os.rename, f, os.path.join(d, "r" * 256)) == errno.ENAMETOOLONG
    assert err(os.rename, os.path.join(d, "."), os.path.join(d, "z")) in (errno.EBUSY, errno.EINVAL)
    assert err(os.rename, f, os.path.join(empty, ".")) in (errno.EBUSY, errno.EINVAL, errno.EISDIR)


def test_rename_permissions(d):
    f = os.path.join(d, "f")
    write_file(f)
    assert user_err(lambda: os.rename(f, os.path.join(d, "g"))) == errno.EACCES
    os.chmod(d, 0o777)
    assert user_err(lambda: os.rename(f, os.path.join(d, "g"))) == 0
    # Moving a directory to a new parent needs write permission on it (its ".." changes).
    sub = os.path.join(d, "sub")
    os.mkdir(sub, 0o755)
    other = os.path.join(d, "other")
    os.mkdir(other)
    os.chmod(other, 0o777)
    assert user_err(lambda: os.rename(sub, os.path.join(other, "sub"))) == errno.EACCES


def test_renameat2_noreplace(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a, b"A")
    write_file(b, b"B")
    assert err(renameat2, a, b, RENAME_NOREPLACE) == errno.EEXIST
    assert read_file(b) == b"B"
    renameat2(a, os.path.join(d, "c"), RENAME_NOREPLACE)
    assert read_file(os.path.join(d, "c")) == b"A" and not os.path.exists(a)


def test_renameat2_exchange(d):
    a = os.path.join(d, "a")
    write_file(a, b"file")
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    write_file(os.path.join(sub, "inner"), b"in")
    other = os.path.join(d, "other")
    os.mkdir(other)
    ia, isub = os.stat(a).st_ino, os.stat(sub).st_ino
    ctime = os.stat(a).st_ctime_ns
    tick()
    renameat2(a, sub, RENAME_EXCHANGE)
    assert os.stat(sub).st_ino == ia and read_file(sub) == b"file"
    assert os.stat(a).st_ino == isub and read_file(os.path.join(a, "inner")) == b"in"
    assert os.stat(sub).st_ctime_ns > ctime
    # Across directories: the parents' link counts follow the directory.
    renameat2(a, os.path.join(other, "x"), 0)
    write_file(os.path.join(d, "y"))
    renameat2(os.path.join(other, "x"), os.path.join(d, "y"), RENAME_EXCHANGE)
    assert os.path.isdir(os.path.join(d, "y")) and os.path.isfile(os.path.join(other, "x"))
    assert os.stat(os.path.join(d, "y", "..")).st_ino == os.stat(d).st_ino
    assert os.stat(other).st_nlink == 2
    assert os.stat(d).st_nlink == 4  # "other" and "y"
    assert err(renameat2, os.path.join(d, "y"), os.path.join(d, "missing"), RENAME_EXCHANGE) == errno.ENOENT
    assert err(renameat2, os.path.join(d, "y"), os.path.join(d, "sub"), RENAME_EXCHANGE | RENAME_NOREPLACE) == errno.EINVAL
    # A directory cannot be exchanged into its own subtree.
    write_file(os.path.join(d, "y", "deep"))
    assert err(renameat2, os.path.join(d, "y"), os.path.join(d, "y", "deep"), RENAME_EXCHANGE) == errno.EINVAL

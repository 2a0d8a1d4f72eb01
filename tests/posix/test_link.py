"""link(2): new names of one inode, nlink/ctime seen through every name at once, errors."""
import errno
import os

from posix_helpers import err, read_file, tick, user_err, write_file


def test_link_shares_inode_and_counts(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a, b"data")
    before = os.stat(a)
    dir_before = os.stat(d)
    tick()
    os.link(a, b)
    sa, sb, sd = os.stat(a), os.stat(b), os.stat(d)
    assert sa.st_ino == sb.st_ino
    assert sa.st_nlink == sb.st_nlink == 2
    assert sa.st_ctime_ns > before.st_ctime_ns
    assert sd.st_mtime_ns > dir_before.st_mtime_ns and sd.st_ctime_ns > dir_before.st_ctime_ns
    with open(b, "ab") as f:
        f.write(b"more")
    assert read_file(a) == b"datamore"


def test_nlink_and_ctime_through_other_name_after_unlink(d):
    # pjdfstest: after removing one name, the other name shows nlink-1 and a new ctime at once.
    a, b, c = (os.path.join(d, n) for n in "abc")
    write_file(a)
    os.link(a, b)
    os.link(a, c)
    assert os.stat(a).st_nlink == 3
    ctime = os.stat(a).st_ctime_ns
    tick()
    os.unlink(b)
    st = os.stat(a)
    assert st.st_nlink == 2
    assert st.st_ctime_ns > ctime
    ctime = st.st_ctime_ns
    tick()
    os.unlink(a)
    st = os.stat(c)
    assert st.st_nlink == 1
    assert st.st_ctime_ns > ctime


def test_nlink_and_ctime_through_other_name_after_rename(d):
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    write_file(a)
    os.link(a, b)
    os.stat(b)  # cache it
    ctime = os.stat(b).st_ctime_ns
    tick()
    os.rename(a, os.path.join(d, "a2"))
    st = os.stat(b)
    assert st.st_nlink == 2
    assert st.st_ctime_ns > ctime
    # A rename that replaces one name of the inode by a different file drops a link.
    other = os.path.join(d, "other")
    write_file(other)
    ctime = st.st_ctime_ns
    tick()
    os.rename(other, os.path.join(d, "a2"))
    st = os.stat(b)
    assert st.st_nlink == 1
    assert st.st_ctime_ns > ctime


def test_link_of_special_files_and_symlinks(d):
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    os.link(fifo, os.path.join(d, "fifo2"))
    assert os.stat(fifo).st_nlink == 2
    os.symlink("target", os.path.join(d, "sl"))
    os.link(os.path.join(d, "sl"), os.path.join(d, "sl2"), follow_symlinks=False)
    assert os.lstat(os.path.join(d, "sl2")).st_nlink == 2
    assert os.readlink(os.path.join(d, "sl2")) == "target"


def test_link_errors(d):
    a = os.path.join(d, "a")
    write_file(a)
    os.mkdir(os.path.join(d, "dir"))
    assert err(os.link, a, a) == errno.EEXIST
    os.symlink("nowhere", os.path.join(d, "dangling"))
    assert err(os.link, a, os.path.join(d, "dangling")) == errno.EEXIST
    assert err(os.link, os.path.join(d, "missing"), os.path.join(d, "x")) == errno.ENOENT
    assert err(os.link, a, os.path.join(d, "nodir", "x")) == errno.ENOENT
    assert err(os.link, a, os.path.join(a, "x")) == errno.ENOTDIR
    assert err(os.link, os.path.join(d, "dir"), os.path.join(d, "dir2")) == errno.EPERM
    assert err(os.link, a, os.path.join(d, "l" * 256)) == errno.ENAMETOOLONG


def test_link_needs_write_permission_on_target_dir(d):
    a = os.path.join(d, "a")
    write_file(a, mode=0o644)
    os.chown(a, 65534, 65534)
    target = os.path.join(d, "ro")
    os.mkdir(target, 0o755)
    assert user_err(lambda: os.link(a, os.path.join(target, "x"))) == errno.EACCES
    os.chmod(target, 0o777)
    assert user_err(lambda: os.link(a, os.path.join(target, "x"))) == 0

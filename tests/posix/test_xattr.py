"""Extended attributes in the user namespace: get/set/list/remove, flags, errors, ctime."""
import errno
import os

from posix_helpers import err, getxattr_raw, listxattr_raw, tick, user_err, write_file


def test_set_get_list_remove(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.setxattr(p, "user.a", b"1")
    os.setxattr(p, "user.b", b"\x00binary\xff" * 100)
    os.setxattr(p, "user.empty", b"")
    assert os.getxattr(p, "user.a") == b"1"
    assert os.getxattr(p, "user.b") == b"\x00binary\xff" * 100
    assert os.getxattr(p, "user.empty") == b""
    assert sorted(os.listxattr(p)) == ["user.a", "user.b", "user.empty"]
    os.setxattr(p, "user.a", b"22")
    assert os.getxattr(p, "user.a") == b"22"
    os.removexattr(p, "user.a")
    assert sorted(os.listxattr(p)) == ["user.b", "user.empty"]
    assert err(os.getxattr, p, "user.a") == errno.ENODATA
    assert err(os.removexattr, p, "user.a") == errno.ENODATA


def test_xattr_on_directories_and_large_values(d):
    os.setxattr(d, "user.dir", b"yes")
    assert os.getxattr(d, "user.dir") == b"yes"
    p = os.path.join(d, "f")
    write_file(p)
    big = os.urandom(65536)
    os.setxattr(p, "user.big", big)
    assert os.getxattr(p, "user.big") == big
    assert err(os.setxattr, p, "user.toobig", b"x" * 65537) == errno.E2BIG
    assert err(os.setxattr, p, "user." + "n" * 251, b"x") == errno.ERANGE
    os.setxattr(p, "user." + "n" * 250, b"x")


def test_create_and_replace_flags(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.setxattr(p, "user.x", b"1", os.XATTR_CREATE)
    assert err(os.setxattr, p, "user.x", b"2", os.XATTR_CREATE) == errno.EEXIST
    assert os.getxattr(p, "user.x") == b"1"
    os.setxattr(p, "user.x", b"3", os.XATTR_REPLACE)
    assert os.getxattr(p, "user.x") == b"3"
    assert err(os.setxattr, p, "user.y", b"4", os.XATTR_REPLACE) == errno.ENODATA
    assert "user.y" not in os.listxattr(p)


def test_erange_and_size_queries(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.setxattr(p, "user.v", b"0123456789")
    assert getxattr_raw(p, "user.v", 0) == 10
    assert getxattr_raw(p, "user.v", 10) == b"0123456789"
    assert err(getxattr_raw, p, "user.v", 5) == errno.ERANGE
    names = b"user.v\x00"
    assert listxattr_raw(p, 0) == len(names)
    assert listxattr_raw(p, 64) == names
    assert err(listxattr_raw, p, 3) == errno.ERANGE


def test_xattr_changes_ctime_only(d):
    p = os.path.join(d, "f")
    write_file(p)
    st = os.stat(p)
    tick()
    os.setxattr(p, "user.t", b"1")
    st2 = os.stat(p)
    assert st2.st_ctime_ns > st.st_ctime_ns and st2.st_mtime_ns == st.st_mtime_ns
    tick()
    os.removexattr(p, "user.t")
    assert os.stat(p).st_ctime_ns > st2.st_ctime_ns


def test_xattr_errors_and_permissions(d):
    assert err(os.getxattr, os.path.join(d, "missing"), "user.x") == errno.ENOENT
    p = os.path.join(d, "f")
    write_file(p, mode=0o644)
    assert err(os.setxattr, p, "bogus.x", b"1") == errno.EOPNOTSUPP
    os.setxattr(p, "user.x", b"1")
    # Reading needs read permission, writing needs write permission (user.* follows the mode).
    assert user_err(lambda: os.getxattr(p, "user.x")) == 0
    assert user_err(lambda: os.setxattr(p, "user.x", b"2")) == errno.EACCES
    os.chmod(p, 0o600)
    assert user_err(lambda: os.getxattr(p, "user.x")) == errno.EACCES
    # user.* is not allowed on symlinks themselves (Linux: EPERM).
    ln = os.path.join(d, "l")
    os.symlink("f", ln)
    assert err(os.setxattr, ln, "user.x", b"1", follow_symlinks=False) == errno.EPERM
    # Through the link it reaches the file.
    assert os.getxattr(ln, "user.x") == b"1"


def test_xattr_follows_hard_links_and_rename(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.setxattr(p, "user.k", b"v")
    os.link(p, os.path.join(d, "g"))
    os.rename(p, os.path.join(d, "h"))
    assert os.getxattr(os.path.join(d, "g"), "user.k") == b"v"
    assert os.getxattr(os.path.join(d, "h"), "user.k") == b"v"

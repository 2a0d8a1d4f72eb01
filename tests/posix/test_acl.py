"""POSIX ACLs on a volume formatted with --enable-acl (enforced by the kernel, kept in step with
the mode by Sluice), compared with what Linux does on ext4/tmpfs; and refused on a volume
without it (the session volume)."""
import errno
import os
import shutil
import subprocess

import pytest

from posix_helpers import NOBODY, as_user, err, read_file, scratch_volume, user_err, write_file

pytestmark = pytest.mark.skipif(shutil.which("setfacl") is None, reason="setfacl/getfacl (Debian package acl) missing")


@pytest.fixture(scope="module")
def aclvol():
    with scratch_volume(os.environ["SLUICE_BIN"], "sluice-acl-", format_args=["--enable-acl"]) as vol:
        yield vol


_counter = [0]


@pytest.fixture
def a(aclvol, request):
    """A fresh directory (0755, root) on the ACL volume."""
    _counter[0] += 1
    path = os.path.join(aclvol.mnt, f"a{_counter[0]:03d}-{request.node.name[:50]}")
    os.mkdir(path)
    os.chmod(path, 0o755)
    return path


def setfacl(*args, check=True):
    p = subprocess.run(["setfacl", *args], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def getfacl(*paths):
    """getfacl's entries (no comments, numeric ids), one list per path."""
    out = subprocess.run(["getfacl", "-cnp", *paths], capture_output=True, text=True, check=True).stdout
    return [block.split("\n") for block in out.strip().split("\n\n")]


def create(path, m):
    """open(O_CREAT) with mode m, leaving the umask and any default ACL to act (write_file
    would fchmod)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, m))


def mode(path):
    return os.stat(path).st_mode & 0o7777


def test_named_user_and_group_entries_grant_access(a):
    p = os.path.join(a, "f")
    write_file(p, b"secret", mode=0o600)
    assert user_err(lambda: read_file(p)) == errno.EACCES
    setfacl("-m", f"u:{NOBODY}:r", p)
    assert mode(p) == 0o640  # the mask became the group bits
    assert as_user(lambda: read_file(p)) == b"secret"
    assert user_err(lambda: write_file(p, b"x")) == errno.EACCES
    # A named group, through a supplementary group.
    q = os.path.join(a, "g")
    write_file(q, b"g", mode=0o600)
    setfacl("-m", "g:4321:rw", q)
    assert user_err(lambda: read_file(q)) == errno.EACCES
    assert user_err(lambda: write_file(q, b"w"), groups=(4321,)) == 0
    assert read_file(q) == b"w"
    # Only the owner (or root) sets ACLs.
    value = os.getxattr(p, "system.posix_acl_access")
    assert user_err(lambda: os.setxattr(p, "system.posix_acl_access", value)) == errno.EPERM


def test_mask_limits_named_entries(a):
    p = os.path.join(a, "f")
    write_file(p, b"data", mode=0o644)
    setfacl("-m", f"u:{NOBODY}:rw", p)
    assert user_err(lambda: write_file(p, b"mine")) == 0
    setfacl("-m", "m::r", p)
    assert mode(p) == 0o644
    acl = getfacl(p)[0]
    assert f"user:{NOBODY}:rw-\t#effective:r--" in acl and "mask::r--" in acl
    assert user_err(lambda: write_file(p, b"again")) == errno.EACCES
    assert as_user(lambda: read_file(p)) == b"mine"


def test_chmod_changes_the_mask(a):
    p = os.path.join(a, "f")
    write_file(p, b"data", mode=0o600)
    setfacl("-m", f"u:{NOBODY}:rwx", p)
    assert mode(p) == 0o670
    os.chmod(p, 0o640)
    acl = getfacl(p)[0]
    # As on Linux: owner and other take the new bits, the mask the group bits, and the
    # named entry stays, limited by the mask.
    assert acl == ["user::rw-", f"user:{NOBODY}:rwx\t#effective:r--", "group::---", "mask::r--", "other::---"]
    assert user_err(lambda: write_file(p, b"x")) == errno.EACCES
    assert as_user(lambda: read_file(p)) == b"data"
    os.chmod(p, 0o604)
    assert user_err(lambda: read_file(p)) == 0  # through other now; the mask is ---
    assert "mask::---" in getfacl(p)[0]


def test_default_acl_is_inherited_and_umask_ignored(a, aclvol):
    d = os.path.join(a, "shared")
    os.mkdir(d, 0o755)
    setfacl("-d", "-m", f"u:{NOBODY}:rwx,g::rx,o::-", d)
    old = os.umask(0o077)
    try:
        create(os.path.join(d, "f"), 0o666)
        os.mkdir(os.path.join(d, "sub"), 0o777)
        os.mkfifo(os.path.join(d, "p"), 0o644)
    finally:
        os.umask(old)
    # umask 077 would have given 0600/0700: the default ACL replaces it.
    assert mode(os.path.join(d, "f")) == 0o660
    assert mode(os.path.join(d, "sub")) == 0o770
    assert mode(os.path.join(d, "p")) == 0o640
    f_acl, sub_acl = getfacl(os.path.join(d, "f"), os.path.join(d, "sub"))
    assert f_acl == ["user::rw-", f"user:{NOBODY}:rwx\t#effective:rw-", "group::r-x\t#effective:r--",
                     "mask::rw-", "other::---"]
    default = ["default:user::rwx", f"default:user:{NOBODY}:rwx", "default:group::r-x", "default:mask::rwx",
               "default:other::---"]
    assert sub_acl == ["user::rwx", f"user:{NOBODY}:rwx", "group::r-x", "mask::rwx", "other::---"] + default
    # The named user may work in the new subdirectory and its files inherit again.
    sub = os.path.join(d, "sub")
    as_user(lambda: create(os.path.join(sub, "n"), 0o600))
    assert mode(os.path.join(sub, "n")) == 0o600
    assert getfacl(os.path.join(sub, "n"))[0] == ["user::rw-", f"user:{NOBODY}:rwx\t#effective:---",
                                                  "group::r-x\t#effective:---", "mask::---", "other::---"]
    # Without a default ACL the umask applies (Sluice applies it: the kernel leaves it).
    old = os.umask(0o027)
    try:
        create(os.path.join(a, "plain"), 0o666)
        os.mkdir(os.path.join(a, "plaindir"), 0o777)
    finally:
        os.umask(old)
    assert mode(os.path.join(a, "plain")) == 0o640 and mode(os.path.join(a, "plaindir")) == 0o750
    assert "system.posix_acl_access" not in os.listxattr(os.path.join(a, "plain"))
    # Default ACLs only on directories; malformed values are EINVAL.
    assert "Only directories" in setfacl("-d", "-m", "u::rwx", os.path.join(d, "f"), check=False).stderr
    assert err(os.setxattr, os.path.join(a, "plain"), "system.posix_acl_access", b"\x02\x00\x00\x00\x01") == errno.EINVAL
    # Everything persists across a remount.
    aclvol.remount()
    assert getfacl(os.path.join(d, "sub"))[0] == sub_acl
    assert mode(os.path.join(d, "f")) == 0o660


def test_cp_a_preserves_acls_and_modes(a):
    src = os.path.join(a, "src")
    os.mkdir(src, 0o751)
    for name, m in (("private", 0o600), ("exec", 0o751), ("suid", 0o4755), ("open", 0o666)):
        write_file(os.path.join(src, name), name.encode(), mode=m)
        os.chmod(os.path.join(src, name), m)
    write_file(os.path.join(src, "acl"), b"acl", mode=0o640)
    setfacl("-m", f"u:{NOBODY}:rw,g:4321:r", os.path.join(src, "acl"))
    os.mkdir(os.path.join(src, "dd"), 0o755)
    setfacl("-d", "-m", f"u:{NOBODY}:rx", os.path.join(src, "dd"))
    dst = os.path.join(a, "dst")
    p = subprocess.run(["cp", "-a", src, dst], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for name in ("", "private", "exec", "suid", "open", "acl", "dd"):
        s, t = os.path.join(src, name), os.path.join(dst, name)
        assert mode(t) == mode(s), name
        assert getfacl(t) == getfacl(s), name
    assert as_user(lambda: read_file(os.path.join(dst, "acl"))) == b"acl"


def test_setfacl_b_returns_to_mode_bits(a):
    p = os.path.join(a, "f")
    write_file(p, b"x", mode=0o640)
    setfacl("-m", f"u:{NOBODY}:rwx", p)
    assert "system.posix_acl_access" in os.listxattr(p)
    setfacl("-b", p)
    assert "system.posix_acl_access" not in os.listxattr(p)
    assert mode(p) == 0o640
    assert getfacl(p)[0] == ["user::rw-", "group::r--", "other::---"]
    assert user_err(lambda: read_file(p)) == errno.EACCES
    # A minimal ACL is just a mode.
    setfacl("-m", "u::rwx,g::-,o::r", p)
    assert mode(p) == 0o704 and "system.posix_acl_access" not in os.listxattr(p)
    d = os.path.join(a, "d")
    os.mkdir(d)
    setfacl("-d", "-m", "u::rwx", d)
    setfacl("-k", d)
    assert "system.posix_acl_default" not in os.listxattr(d)


def test_without_enable_acl_setfacl_is_not_supported(d):
    p = os.path.join(d, "f")
    write_file(p, b"x", mode=0o600)
    r = setfacl("-m", f"u:{NOBODY}:r", p, check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    assert err(os.getxattr, p, "system.posix_acl_access") == errno.EOPNOTSUPP
    os.chmod(p, 0o644)
    assert mode(p) == 0o644
    assert getfacl(p)[0] == ["user::rw-", "group::r--", "other::r--"]
    assert user_err(lambda: read_file(p)) == 0
    # The umask is the kernel's there, as before.
    old = os.umask(0o077)
    try:
        create(os.path.join(d, "m"), 0o666)
    finally:
        os.umask(old)
    assert mode(os.path.join(d, "m")) == 0o600

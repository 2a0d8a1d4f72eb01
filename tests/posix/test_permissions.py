"""Permission checks as an unprivileged user (uid/gid 65534, with supplementary groups):
read/write/search, owner-only operations, sticky directories, set-id bits, root overrides."""
import errno
import os
import stat

from posix_helpers import NOBODY, as_user, read_file, user_err, write_file

OTHER = 4321  # another unprivileged user


def test_read_write_search(d):
    p = os.path.join(d, "f")
    write_file(p, b"secret")
    os.chmod(p, 0o640)
    os.chown(p, 0, 777)
    assert user_err(lambda: read_file(p)) == errno.EACCES
    # Group membership through a supplementary group grants the group bits.
    assert as_user(lambda: read_file(p), groups=[777]) == b"secret"
    assert user_err(lambda: write_file(p, b"x"), groups=[777]) == errno.EACCES
    os.chmod(p, 0o604)
    # The group class applies (and denies) before "other" does.
    assert user_err(lambda: read_file(p), groups=[777]) == errno.EACCES
    assert as_user(lambda: read_file(p)) == b"secret"
    # Owner class: an owner without permission is denied even if others may.
    os.chown(p, NOBODY, 0)
    os.chmod(p, 0o077)
    assert user_err(lambda: read_file(p)) == errno.EACCES
    # Search permission on directories.
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    write_file(os.path.join(sub, "inner"), b"i")
    os.chmod(sub, 0o744)
    assert user_err(lambda: read_file(os.path.join(sub, "inner"))) == errno.EACCES
    assert user_err(lambda: os.stat(os.path.join(sub, "inner"))) == errno.EACCES
    assert as_user(lambda: os.listdir(sub)) == ["inner"]
    os.chmod(sub, 0o711)
    assert as_user(lambda: read_file(os.path.join(sub, "inner"))) == b"i"
    assert user_err(lambda: os.listdir(sub)) == errno.EACCES
    assert user_err(lambda: write_file(os.path.join(sub, "new"))) == errno.EACCES


def test_access_syscall(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.chmod(p, 0o604)
    assert as_user(lambda: os.access(p, os.R_OK)) is True
    assert as_user(lambda: os.access(p, os.W_OK)) is False
    assert as_user(lambda: os.access(p, os.X_OK)) is False
    assert os.access(p, os.R_OK | os.W_OK) is True
    assert os.access(p, os.X_OK) is False  # root needs some x bit
    os.chmod(p, 0o100)
    assert os.access(p, os.X_OK) is True


def test_owner_only_operations(d):
    p = os.path.join(d, "f")
    write_file(p)
    os.chmod(p, 0o666)
    assert user_err(lambda: os.chmod(p, 0o777)) == errno.EPERM
    assert user_err(lambda: os.chown(p, NOBODY, NOBODY)) == errno.EPERM
    assert user_err(lambda: os.utime(p, ns=(1, 1))) == errno.EPERM
    assert user_err(lambda: os.utime(p)) == 0


def test_sticky_directory(d):
    tmp = os.path.join(d, "tmp")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    as_user(lambda: write_file(os.path.join(tmp, "mine")))
    as_user(lambda: write_file(os.path.join(tmp, "theirs")), uid=OTHER, gid=OTHER)
    write_file(os.path.join(tmp, "roots"))
    os.chmod(os.path.join(tmp, "roots"), 0o666)
    # Others' files in a sticky directory can be neither removed nor renamed away nor over.
    assert user_err(lambda: os.unlink(os.path.join(tmp, "theirs"))) == errno.EPERM
    assert user_err(lambda: os.unlink(os.path.join(tmp, "roots"))) == errno.EPERM
    assert user_err(lambda: os.rename(os.path.join(tmp, "theirs"), os.path.join(tmp, "x"))) == errno.EPERM
    assert user_err(lambda: os.rename(os.path.join(tmp, "mine"), os.path.join(tmp, "theirs"))) == errno.EPERM
    # One's own files can.
    as_user(lambda: os.rename(os.path.join(tmp, "mine"), os.path.join(tmp, "mine2")))
    as_user(lambda: os.unlink(os.path.join(tmp, "mine2")))
    # The directory's owner may remove anything in it.
    os.chown(tmp, OTHER, OTHER)
    as_user(lambda: os.unlink(os.path.join(tmp, "roots")), uid=OTHER, gid=OTHER)
    # Directories follow the same rule for rmdir.
    os.mkdir(os.path.join(tmp, "rootdir"))
    assert user_err(lambda: os.rmdir(os.path.join(tmp, "rootdir"))) == errno.EPERM
    # Root overrides.
    os.unlink(os.path.join(tmp, "theirs"))
    os.rmdir(os.path.join(tmp, "rootdir"))
    assert os.listdir(tmp) == []
    # Without the sticky bit anyone with write permission may remove.
    os.chmod(tmp, 0o777)
    write_file(os.path.join(tmp, "roots"))
    assert user_err(lambda: os.unlink(os.path.join(tmp, "roots"))) == 0


def test_write_clears_setuid_and_setgid(d):
    p = os.path.join(d, "f")
    write_file(p, b"x")
    os.chown(p, 0, 0)
    os.chmod(p, 0o6777)
    as_user(lambda: write_file(p, b"written by nobody"))
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o777
    assert read_file(p) == b"written by nobody"
    # Truncation by a non-owner clears them too.
    os.chmod(p, 0o6777)
    as_user(lambda: os.truncate(p, 1))
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o777
    # Setgid without group execute is a mandatory-locking marker and stays.
    os.chmod(p, 0o2666)
    as_user(lambda: write_file(p, b"y"))
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o2666


def test_owner_write_clears_setid_bits(d):
    p = os.path.join(d, "f")
    write_file(p, b"x")
    os.chown(p, NOBODY, NOBODY)
    os.chmod(p, 0o6755)
    as_user(lambda: write_file(p, b"own"))
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o755


def test_root_overrides(d):
    p = os.path.join(d, "f")
    write_file(p, b"data")
    os.chown(p, NOBODY, NOBODY)
    os.chmod(p, 0)
    assert read_file(p) == b"data"
    write_file(p, b"root wrote")
    assert read_file(p) == b"root wrote"
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    os.chown(sub, NOBODY, NOBODY)
    os.chmod(sub, 0)
    write_file(os.path.join(sub, "f"), b"in a 000 directory")
    assert os.listdir(sub) == ["f"]
    os.chmod(p, 0o644)
    os.chown(p, 1, 1)
    os.utime(p, ns=(1, 1))

"""chmod(2)/fchmod(2): mode changes, ctime, error cases, and who may change a mode."""
import errno
import os
import stat

from posix_helpers import NOBODY, as_user, err, tick, user_err, write_file


def test_chmod_file_dir_and_through_symlink(d):
    f = os.path.join(d, "f")
    write_file(f)
    os.chmod(f, 0o640)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    os.mkdir(os.path.join(d, "sub"))
    os.chmod(os.path.join(d, "sub"), 0o711)
    assert stat.S_IMODE(os.stat(os.path.join(d, "sub")).st_mode) == 0o711
    os.symlink("f", os.path.join(d, "l"))
    os.chmod(os.path.join(d, "l"), 0o604)  # follows the link
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o604
    assert stat.S_IMODE(os.lstat(os.path.join(d, "l")).st_mode) == 0o777


def test_chmod_special_bits(d):
    f = os.path.join(d, "f")
    write_file(f)
    for mode in (0o4755, 0o2755, 0o1755, 0o7777, 0):
        os.chmod(f, mode)
        assert stat.S_IMODE(os.stat(f).st_mode) == mode


def test_fchmod(d):
    f = os.path.join(d, "f")
    fd = os.open(f, os.O_CREAT | os.O_RDWR, 0o600)
    os.fchmod(fd, 0o444)
    assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o444
    os.close(fd)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o444


def test_chmod_updates_ctime_not_mtime(d):
    f = os.path.join(d, "f")
    write_file(f)
    before = os.stat(f)
    tick()
    os.chmod(f, 0o600)
    after = os.stat(f)
    assert after.st_ctime_ns > before.st_ctime_ns
    assert after.st_mtime_ns == before.st_mtime_ns


def test_chmod_errors(d):
    f = os.path.join(d, "f")
    write_file(f)
    assert err(os.chmod, os.path.join(d, "missing"), 0o644) == errno.ENOENT
    assert err(os.chmod, os.path.join(f, "x"), 0o644) == errno.ENOTDIR
    assert err(os.chmod, os.path.join(d, "x" * 256), 0o644) == errno.ENAMETOOLONG
    os.symlink("l2", os.path.join(d, "l1"))
    os.symlink("l1", os.path.join(d, "l2"))
    assert err(os.chmod, os.path.join(d, "l1"), 0o644) == errno.ELOOP


def test_chmod_of_others_file_is_eperm(d):
    f = os.path.join(d, "f")
    write_file(f, mode=0o666)
    assert user_err(lambda: os.chmod(f, 0o600)) == errno.EPERM
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o666


def test_owner_may_chmod_and_root_overrides(d):
    f = os.path.join(d, "f")
    write_file(f)
    os.chown(f, NOBODY, NOBODY)
    as_user(lambda: os.chmod(f, 0o700))
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o700
    os.chmod(f, 0o640)  # root, not the owner
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640


def test_setgid_dropped_when_owner_not_in_group(d):
    # A non-root owner who is not a member of the file's group cannot set S_ISGID: Linux
    # clears it silently.
    f = os.path.join(d, "f")
    write_file(f)
    os.chown(f, NOBODY, 0)
    as_user(lambda: os.chmod(f, 0o2755))
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o755
    os.chown(f, NOBODY, NOBODY)
    as_user(lambda: os.chmod(f, 0o2755))
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o2755

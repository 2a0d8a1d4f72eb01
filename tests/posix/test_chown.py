"""chown(2)/fchown(2)/lchown(2): ownership changes, ctime, EPERM rules, and the set-id bits
Linux clears on chown."""
import errno
import os
import stat

from posix_helpers import NOBODY, as_user, err, tick, user_err, write_file

NOGROUP = 65533  # a group nobody is made a member of below


def test_root_chown_and_ctime(d):
    f = os.path.join(d, "f")
    write_file(f)
    before = os.stat(f)
    tick()
    os.chown(f, 123, 456)
    st = os.stat(f)
    assert (st.st_uid, st.st_gid) == (123, 456)
    assert st.st_ctime_ns > before.st_ctime_ns
    assert st.st_mtime_ns == before.st_mtime_ns
    os.chown(f, -1, 789)
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (123, 789)
    os.chown(f, 321, -1)
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (321, 789)


def test_fchown_and_lchown(d):
    f = os.path.join(d, "f")
    fd = os.open(f, os.O_CREAT | os.O_RDWR, 0o644)
    os.fchown(fd, 11, 12)
    assert (os.fstat(fd).st_uid, os.fstat(fd).st_gid) == (11, 12)
    os.close(fd)
    ln = os.path.join(d, "l")
    os.symlink("f", ln)
    os.lchown(ln, 21, 22)
    assert (os.lstat(ln).st_uid, os.lstat(ln).st_gid) == (21, 22)
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (11, 12)
    os.chown(ln, 31, 32)  # follows
    assert (os.stat(f).st_uid, os.stat(f).st_gid) == (31, 32)
    assert (os.lstat(ln).st_uid, os.lstat(ln).st_gid) == (21, 22)


def test_chown_errors(d):
    assert err(os.chown, os.path.join(d, "missing"), 1, 1) == errno.ENOENT
    f = os.path.join(d, "f")
    write_file(f)
    assert err(os.chown, os.path.join(f, "x"), 1, 1) == errno.ENOTDIR
    assert err(os.chown, os.path.join(d, "y" * 256), 1, 1) == errno.ENAMETOOLONG


def test_non_root_cannot_give_away_or_take(d):
    mine = os.path.join(d, "mine")
    write_file(mine)
    os.chown(mine, NOBODY, NOBODY)
    theirs = os.path.join(d, "theirs")
    write_file(theirs, mode=0o666)
    assert user_err(lambda: os.chown(mine, 0, -1)) == errno.EPERM
    assert user_err(lambda: os.chown(theirs, NOBODY, -1)) == errno.EPERM
    assert user_err(lambda: os.chown(theirs, -1, NOBODY)) == errno.EPERM
    # The group may only become one the owner is a member of.
    assert user_err(lambda: os.chown(mine, -1, NOGROUP)) == errno.EPERM
    as_user(lambda: os.chown(mine, -1, NOGROUP), groups=[NOGROUP])
    assert os.stat(mine).st_gid == NOGROUP
    # Setting the same owner is allowed.
    as_user(lambda: os.chown(mine, NOBODY, -1))


def test_chown_by_non_root_owner_clears_setid_bits(d):
    f = os.path.join(d, "f")
    write_file(f)
    os.chown(f, NOBODY, NOBODY)
    os.chmod(f, 0o6555)
    as_user(lambda: os.chown(f, -1, NOGROUP), groups=[NOGROUP])
    st = os.stat(f)
    assert stat.S_IMODE(st.st_mode) == 0o555
    assert st.st_gid == NOGROUP


def test_chown_by_root_clears_setid_bits_of_files(d):
    # As on ext4: even root's chown drops S_ISUID, and S_ISGID of a group-executable file.
    f = os.path.join(d, "f")
    write_file(f)
    os.chmod(f, 0o6555)
    os.chown(f, NOBODY, NOBODY)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o555
    # A directory keeps them.
    sub = os.path.join(d, "sub")
    os.mkdir(sub)
    os.chmod(sub, 0o3755)
    os.chown(sub, NOBODY, NOBODY)
    assert stat.S_IMODE(os.stat(sub).st_mode) == 0o3755

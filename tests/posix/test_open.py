"""open(2)/creat(2): creation flags, truncation, appending, and every error case."""
import errno
import os
import stat

from posix_helpers import err, read_file, tick, user_err, write_file


def test_creat_mode_umask_owner(d):
    os.umask(0o077)
    p = os.path.join(d, "f")
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o666)
    os.close(fd)
    st = os.stat(p)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid, st.st_size, st.st_nlink) == (0, 0, 0, 1)


def test_o_creat_existing_keeps_content(d):
    p = os.path.join(d, "f")
    write_file(p, b"keep")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
    assert os.read(fd, 10) == b"keep"
    os.close(fd)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o644


def test_o_excl(d):
    p = os.path.join(d, "f")
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)
    assert err(os.open, p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644) == errno.EEXIST
    os.symlink("nowhere", os.path.join(d, "dangling"))
    assert err(os.open, os.path.join(d, "dangling"), os.O_CREAT | os.O_EXCL | os.O_WRONLY) == errno.EEXIST
    assert not os.path.exists(os.path.join(d, "nowhere"))
    # Without O_EXCL a dangling link is followed and its target created.
    fd = os.open(os.path.join(d, "dangling"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    assert os.path.isfile(os.path.join(d, "nowhere"))


def test_o_trunc(d):
    p = os.path.join(d, "f")
    write_file(p, b"x" * 10000)
    before = os.stat(p)
    tick()
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    st = os.fstat(fd)
    os.close(fd)
    assert st.st_size == 0
    assert st.st_mtime_ns > before.st_mtime_ns and st.st_ctime_ns > before.st_ctime_ns
    assert read_file(p) == b""
    # O_TRUNC of an empty file changes nothing visible but must not fail.
    os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))


def test_o_append_from_two_descriptors(d):
    p = os.path.join(d, "log")
    a = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    b = os.open(p, os.O_WRONLY | os.O_APPEND)
    expected = b""
    for i in range(50):
        fd, tag = (a, b"A") if i % 2 == 0 else (b, b"B")
        rec = tag + str(i).encode() + b"\n"
        os.write(fd, rec)
        expected += rec
    os.lseek(a, 0, os.SEEK_SET)
    os.write(a, b"end\n")  # O_APPEND ignores the position
    expected += b"end\n"
    os.close(a)
    os.close(b)
    assert read_file(p) == expected


def test_o_append_from_two_processes(d):
    p = os.path.join(d, "log")
    write_file(p)
    pids = []
    for tag in (b"a", b"b"):
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                for _ in range(200):
                    os.write(fd, tag * 100)
                os.close(fd)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    data = read_file(p)
    assert len(data) == 2 * 200 * 100
    records = [data[i:i + 100] for i in range(0, len(data), 100)]
    assert all(r in (b"a" * 100, b"b" * 100) for r in records)


def test_o_directory_and_eisdir(d):
    p = os.path.join(d, "f")
    write_file(p)
    assert err(os.open, p, os.O_RDONLY | os.O_DIRECTORY) == errno.ENOTDIR
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    assert err(os.open, d, os.O_WRONLY) == errno.EISDIR
    assert err(os.open, d, os.O_RDWR) == errno.EISDIR
    assert err(os.open, d, os.O_RDONLY | os.O_TRUNC) == errno.EISDIR
    assert err(os.open, d, os.O_CREAT | os.O_RDONLY) == errno.EISDIR


def test_o_nofollow(d):
    write_file(os.path.join(d, "f"), b"x")
    os.symlink("f", os.path.join(d, "l"))
    assert err(os.open, os.path.join(d, "l"), os.O_RDONLY | os.O_NOFOLLOW) == errno.ELOOP
    fd = os.open(os.path.join(d, "l"), os.O_RDONLY | os.O_NOFOLLOW | os.O_PATH)
    assert stat.S_ISLNK(os.fstat(fd).st_mode)
    os.close(fd)


def test_open_errors(d):
    p = os.path.join(d, "f")
    write_file(p)
    assert err(os.open, os.path.join(d, "missing"), os.O_RDONLY) == errno.ENOENT
    assert err(os.open, os.path.join(d, "nodir", "f"), os.O_CREAT | os.O_WRONLY) == errno.ENOENT
    assert err(os.open, os.path.join(p, "x"), os.O_RDONLY) == errno.ENOTDIR
    assert err(os.open, os.path.join(p, "x"), os.O_CREAT | os.O_WRONLY) == errno.ENOTDIR
    assert err(os.open, os.path.join(d, "n" * 256), os.O_CREAT | os.O_WRONLY) == errno.ENAMETOOLONG
    os.symlink("loop2", os.path.join(d, "loop1"))
    os.symlink("loop1", os.path.join(d, "loop2"))
    assert err(os.open, os.path.join(d, "loop1"), os.O_RDONLY) == errno.ELOOP
    assert err(os.open, os.path.join(d, "loop1"), os.O_CREAT | os.O_WRONLY) == errno.ELOOP
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    assert err(os.open, fifo, os.O_WRONLY | os.O_NONBLOCK) == errno.ENXIO


def test_open_permissions(d):
    p = os.path.join(d, "secret")
    write_file(p, b"s", mode=0o600)
    os.chmod(p, 0o600)
    assert user_err(lambda: os.open(p, os.O_RDONLY)) == errno.EACCES
    assert user_err(lambda: os.open(p, os.O_WRONLY)) == errno.EACCES
    os.chmod(p, 0o604)
    assert user_err(lambda: os.close(os.open(p, os.O_RDONLY))) == 0
    assert user_err(lambda: os.open(p, os.O_RDWR)) == errno.EACCES
    assert user_err(lambda: os.open(p, os.O_RDONLY | os.O_TRUNC)) == errno.EACCES
    assert read_file(p) == b"s"
    # Creating needs write permission on the directory.
    assert user_err(lambda: os.open(os.path.join(d, "new"), os.O_CREAT | os.O_WRONLY, 0o644)) == errno.EACCES
    # Root reads anything.
    os.chmod(p, 0)
    assert read_file(p) == b"s"


def test_read_write_positions(d):
    p = os.path.join(d, "f")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    assert os.write(fd, b"hello world") == 11
    assert os.lseek(fd, 0, os.SEEK_CUR) == 11
    assert os.pread(fd, 5, 6) == b"world"
    os.pwrite(fd, b"W", 6)
    os.lseek(fd, 0, os.SEEK_SET)
    assert os.read(fd, 100) == b"hello World"
    assert os.read(fd, 100) == b""
    assert os.lseek(fd, 0, os.SEEK_END) == 11
    os.lseek(fd, 20, os.SEEK_SET)
    os.write(fd, b"!")
    assert os.fstat(fd).st_size == 21
    os.close(fd)
    assert read_file(p) == b"hello World" + bytes(9) + b"!"

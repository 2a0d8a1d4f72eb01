"""unlink(2): names go, open files live on with nlink 0, times, errors."""
import errno
import os
import time

from posix_helpers import err, read_file, tick, user_err, write_file


def test_unlink_removes_and_updates_parent(d):
    p = os.path.join(d, "f")
    write_file(p, b"x")
    before = os.stat(d)
    tick()
    os.unlink(p)
    assert not os.path.exists(p)
    assert os.listdir(d) == []
    after = os.stat(d)
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns


def test_open_unlinked_file_stays_usable(d):
    p = os.path.join(d, "f")
    data = os.urandom(300_000)
    write_file(p, data)
    fd = os.open(p, os.O_RDWR)
    os.unlink(p)
    assert not os.path.exists(p)
    st = os.fstat(fd)
    assert st.st_nlink == 0 and st.st_size == len(data)
    assert os.pread(fd, len(data), 0) == data
    os.pwrite(fd, b"tail", len(data))
    assert os.pread(fd, 10, len(data)) == b"tail"
    assert os.fstat(fd).st_size == len(data) + 4
    # A new file of the same name is a different file.
    write_file(p, b"new")
    assert os.pread(fd, 3, 0) == data[:3]
    os.close(fd)
    assert read_file(p) == b"new"


def test_unlink_while_another_process_reads(d):
    p = os.path.join(d, "f")
    write_file(p, b"abc" * 1000)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_RDONLY)
        os.write(w, b"1")
        time.sleep(0.3)  # the parent unlinks meanwhile
        ok = os.pread(fd, 3000, 0) == b"abc" * 1000 and os.fstat(fd).st_nlink == 0
        os._exit(0 if ok else 1)
    os.read(r, 1)
    os.unlink(p)
    _, status = os.waitpid(pid, 0)
    os.close(r)
    os.close(w)
    assert os.waitstatus_to_exitcode(status) == 0


def test_unlink_special_files_and_symlinks(d):
    write_file(os.path.join(d, "target"), b"t")
    os.symlink("target", os.path.join(d, "l"))
    os.unlink(os.path.join(d, "l"))
    assert read_file(os.path.join(d, "target")) == b"t"
    os.mkfifo(os.path.join(d, "fifo"))
    os.unlink(os.path.join(d, "fifo"))
    assert sorted(os.listdir(d)) == ["target"]


def test_unlink_errors(d):
    write_file(os.path.join(d, "f"))
    os.mkdir(os.path.join(d, "dir"))
    assert err(os.unlink, os.path.join(d, "dir")) == errno.EISDIR
    assert err(os.unlink, os.path.join(d, "missing")) == errno.ENOENT
    assert err(os.unlink, os.path.join(d, "f", "x")) == errno.ENOTDIR
    assert err(os.unlink, os.path.join(d, "u" * 256)) == errno.ENAMETOOLONG
    assert user_err(lambda: os.unlink(os.path.join(d, "f"))) == errno.EACCES
    assert os.path.exists(os.path.join(d, "f"))

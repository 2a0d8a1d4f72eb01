"""flock(2) and fcntl(2) record locks between processes: conflicts, F_GETLK, release on close
and on exit, and a waiter interrupted by a signal."""
import ctypes
import errno
import fcntl
import os
import signal
import struct
import time

from posix_helpers import err, libc, write_file

FLOCK_FMT = "hhqqi4x"  # struct flock on x86_64


def getlk(fd, kind, start=0, length=0):
    raw = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FLOCK_FMT, kind, os.SEEK_SET, start, length, 0))
    l_type, _, l_start, l_len, l_pid = struct.unpack(FLOCK_FMT, raw)
    return l_type, l_start, l_len, l_pid


def setlk(fd, kind, start=0, length=0, wait=False):
    fcntl.fcntl(fd, fcntl.F_SETLKW if wait else fcntl.F_SETLK,
                struct.pack(FLOCK_FMT, kind, os.SEEK_SET, start, length, 0))


def in_child(fn):
    """Runs fn() in a forked child; returns its exit code (fn's return value, 0..255)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = fn()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def start_holder(path, lock):
    """Forks a child that opens `path`, takes `lock(fd)` and holds it until stop_holder.
    Returns (pid, release pipe)."""
    ready_r, ready_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(path, os.O_RDWR)
            lock(fd)
            os.write(ready_w, b"1")
            os.read(release_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(release_r)
    assert os.read(ready_r, 1) == b"1", "the lock holder failed"
    os.close(ready_r)
    return pid, release_w


def eventually(attempt, timeout=10.0):
    """Retries `attempt` (which returns an errno, 0 for success) until it succeeds or the
    deadline passes, and returns its last result. flock locks go with the RELEASE of the file
    description, which Linux sends to a FUSE file system asynchronously, after close(2) or the
    holder's exit has returned (it keeps no local record of a remote flock to unlock at once;
    JuiceFS behaves the same). POSIX locks, released by the synchronous FLUSH, need no wait."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result == 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.01)


def stop_holder(pid, release_w):
    os.write(release_w, b"x")
    os.close(release_w)
    os.waitpid(pid, 0)


def test_flock_between_processes(d):
    p = os.path.join(d, "f")
    write_file(p)
    pid, rel = start_holder(p, lambda fd: fcntl.flock(fd, fcntl.LOCK_EX))
    try:
        assert in_child(lambda: err(fcntl.flock, os.open(p, os.O_RDONLY), fcntl.LOCK_SH | fcntl.LOCK_NB)) == errno.EWOULDBLOCK
        assert in_child(lambda: err(fcntl.flock, os.open(p, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)) == errno.EWOULDBLOCK
    finally:
        stop_holder(pid, rel)  # the holder exits: its lock goes
    assert eventually(lambda: in_child(lambda: err(fcntl.flock, os.open(p, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB))) == 0


def test_flock_shared_and_release_on_close(d):
    p = os.path.join(d, "f")
    write_file(p)
    pid, rel = start_holder(p, lambda fd: fcntl.flock(fd, fcntl.LOCK_SH))
    try:
        assert in_child(lambda: err(fcntl.flock, os.open(p, os.O_RDONLY), fcntl.LOCK_SH | fcntl.LOCK_NB)) == 0
        assert in_child(lambda: err(fcntl.flock, os.open(p, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)) == errno.EWOULDBLOCK
    finally:
        stop_holder(pid, rel)
    # Two descriptions in one process conflict with each other; closing one releases its lock.
    a = os.open(p, os.O_RDWR)
    b = os.open(p, os.O_RDWR)
    try:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert err(fcntl.flock, b, fcntl.LOCK_EX | fcntl.LOCK_NB) == errno.EWOULDBLOCK
        os.close(a)
        assert eventually(lambda: err(fcntl.flock, b, fcntl.LOCK_EX | fcntl.LOCK_NB)) == 0
        fcntl.flock(b, fcntl.LOCK_UN)
    finally:
        os.close(b)


def test_flock_blocking_waiter_is_granted(d):
    p = os.path.join(d, "f")
    write_file(p)
    pid, rel = start_holder(p, lambda fd: fcntl.flock(fd, fcntl.LOCK_EX))
    r, w = os.pipe()
    waiter = os.fork()
    if waiter == 0:
        try:
            fd = os.open(p, os.O_RDWR)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(w, b"g")
        finally:
            os._exit(0)
    time.sleep(0.3)
    stop_holder(pid, rel)
    assert os.read(r, 1) == b"g"
    os.waitpid(waiter, 0)


def test_fcntl_ranges_and_getlk(d):
    p = os.path.join(d, "f")
    write_file(p, bytes(1000))
    pid, rel = start_holder(p, lambda fd: setlk(fd, fcntl.F_WRLCK, 100, 50))
    try:
        fd = os.open(p, os.O_RDWR)
        l_type, l_start, l_len, l_pid = getlk(fd, fcntl.F_WRLCK, 0, 0)
        assert (l_type, l_start, l_len, l_pid) == (fcntl.F_WRLCK, 100, 50, pid)
        assert getlk(fd, fcntl.F_RDLCK, 0, 100)[0] == fcntl.F_UNLCK
        assert getlk(fd, fcntl.F_RDLCK, 150, 10)[0] == fcntl.F_UNLCK
        assert getlk(fd, fcntl.F_RDLCK, 149, 1)[0] == fcntl.F_WRLCK
        assert err(setlk, fd, fcntl.F_RDLCK, 120, 1) in (errno.EAGAIN, errno.EACCES)
        setlk(fd, fcntl.F_WRLCK, 0, 100)  # adjacent range: fine
        setlk(fd, fcntl.F_WRLCK, 150, 0)  # to EOF and beyond
        os.close(fd)
    finally:
        stop_holder(pid, rel)


def test_fcntl_read_locks_share(d):
    p = os.path.join(d, "f")
    write_file(p, bytes(10))
    pid, rel = start_holder(p, lambda fd: setlk(fd, fcntl.F_RDLCK))
    try:
        fd = os.open(p, os.O_RDWR)
        setlk(fd, fcntl.F_RDLCK)
        assert err(setlk, fd, fcntl.F_WRLCK) in (errno.EAGAIN, errno.EACCES)
        assert getlk(fd, fcntl.F_WRLCK)[3] == pid
        os.close(fd)
    finally:
        stop_holder(pid, rel)


def test_fcntl_lock_released_on_close_of_any_descriptor(d):
    p = os.path.join(d, "f")
    write_file(p, bytes(10))

    def lock_then_close_other(fd):
        setlk(fd, fcntl.F_WRLCK)
        other = os.open(p, os.O_RDONLY)
        os.close(other)  # POSIX: drops every lock of this process on the file

    pid, rel = start_holder(p, lock_then_close_other)
    try:
        fd = os.open(p, os.O_RDWR)
        assert getlk(fd, fcntl.F_WRLCK)[0] == fcntl.F_UNLCK
        setlk(fd, fcntl.F_WRLCK)
        os.close(fd)
    finally:
        stop_holder(pid, rel)


def test_fcntl_lock_released_on_exit(d):
    p = os.path.join(d, "f")
    write_file(p, bytes(10))

    def lock_and_exit():
        fd = os.open(p, os.O_RDWR)
        setlk(fd, fcntl.F_WRLCK)
        return 0  # exits holding the lock

    assert in_child(lock_and_exit) == 0
    fd = os.open(p, os.O_RDWR)
    assert getlk(fd, fcntl.F_WRLCK)[0] == fcntl.F_UNLCK
    setlk(fd, fcntl.F_WRLCK, wait=True)
    os.close(fd)


class Flock(ctypes.Structure):
    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short), ("l_start", ctypes.c_long),
                ("l_len", ctypes.c_long), ("l_pid", ctypes.c_int)]


def test_setlkw_waiter_interrupted_by_signal(d):
    p = os.path.join(d, "f")
    write_file(p, bytes(10))
    pid, rel = start_holder(p, lambda fd: setlk(fd, fcntl.F_WRLCK))
    try:
        def wait_for_lock():
            signal.signal(signal.SIGALRM, lambda *_: None)  # a handler without SA_RESTART
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            fd = os.open(p, os.O_RDWR)
            lk = Flock(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            start = time.monotonic()
            rc = libc.fcntl(fd, fcntl.F_SETLKW, ctypes.byref(lk))
            e = ctypes.get_errno()
            if time.monotonic() - start > 5:
                return 3
            return 0 if rc == -1 and e == errno.EINTR else 2

        assert in_child(wait_for_lock) == 0
    finally:
        stop_holder(pid, rel)

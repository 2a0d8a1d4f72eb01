"""mkfifo(3)/mknod(2): FIFOs that work between processes, device nodes with their rdev,
UNIX domain sockets bound on the mount."""
import errno
import os
import socket
import stat

from posix_helpers import err, tick, user_err, write_file


def test_fifo_between_processes(d):
    p = os.path.join(d, "fifo")
    os.mkfifo(p, 0o640)
    st = os.stat(p)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    # No reader yet: a non-blocking writer is refused.
    assert err(os.open, p, os.O_WRONLY | os.O_NONBLOCK) == errno.ENXIO
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(p, os.O_WRONLY)
            os.write(fd, b"through the fifo")
            os.close(fd)
        finally:
            os._exit(0)
    fd = os.open(p, os.O_RDONLY)
    data = b""
    while True:
        b = os.read(fd, 100)
        if not b:
            break
        data += b
    os.close(fd)
    os.waitpid(pid, 0)
    assert data == b"through the fifo"
    assert os.stat(p).st_size == 0


def test_char_and_block_devices_keep_rdev(d):
    c = os.path.join(d, "null")
    os.mknod(c, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    st = os.stat(c)
    assert stat.S_ISCHR(st.st_mode)
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    # Opening it reaches the device, not the file system.
    with open(c, "wb") as f:
        f.write(b"discarded")
    with open(c, "rb") as f:
        assert f.read() == b""
    b = os.path.join(d, "blk")
    os.mknod(b, 0o600 | stat.S_IFBLK, os.makedev(259, 77))
    st = os.stat(b)
    assert stat.S_ISBLK(st.st_mode)
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (259, 77)
    big = os.path.join(d, "big")
    os.mknod(big, 0o600 | stat.S_IFCHR, os.makedev(4000, 300000))
    st = os.stat(big)
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (4000, 300000)


def test_mknod_regular_and_fifo(d):
    r = os.path.join(d, "reg")
    os.mknod(r, 0o600 | stat.S_IFREG)
    assert stat.S_ISREG(os.stat(r).st_mode) and os.stat(r).st_size == 0
    f = os.path.join(d, "fifo")
    os.mknod(f, 0o600 | stat.S_IFIFO)
    assert stat.S_ISFIFO(os.stat(f).st_mode)


def test_unix_socket_bound_on_the_mount(d):
    path = os.path.join(d, "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    conn, _ = server.accept()
    client.sendall(b"ping")
    assert conn.recv(4) == b"ping"
    for s in (conn, client, server):
        s.close()
    again = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    assert err(again.bind, path) == errno.EADDRINUSE
    again.close()
    os.unlink(path)


def test_mknod_updates_parent_and_errors(d):
    before = os.stat(d)
    tick()
    p = os.path.join(d, "fifo")
    os.mkfifo(p)
    after = os.stat(d)
    assert after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns
    assert err(os.mkfifo, p) == errno.EEXIST
    write_file(os.path.join(d, "f"))
    assert err(os.mkfifo, os.path.join(d, "f", "x")) == errno.ENOTDIR
    assert err(os.mkfifo, os.path.join(d, "missing", "x")) == errno.ENOENT
    assert err(os.mkfifo, os.path.join(d, "x" * 256)) == errno.ENAMETOOLONG
    # Device nodes need CAP_MKNOD; FIFOs only write permission on the directory.
    os.chmod(d, 0o777)
    assert user_err(lambda: os.mknod(os.path.join(d, "c"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))) == errno.EPERM
    assert user_err(lambda: os.mkfifo(os.path.join(d, "userfifo"))) == 0
    assert os.stat(os.path.join(d, "userfifo")).st_uid == 65534

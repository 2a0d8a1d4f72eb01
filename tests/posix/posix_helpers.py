"""Helpers of the POSIX suite: the mounted volume, running code as another user, and the
system calls Python's os module lacks (through ctypes)."""
import contextlib
import ctypes
import ctypes.util
import errno
import os
import pickle
import shutil
import subprocess
import tempfile
import time

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

NOBODY = 65534


class Volume:
    """A formatted Sluice volume in a scratch directory and its mount."""

    def __init__(self, binary, base, format_args=()):
        self.bin = binary
        self.format_args = list(format_args)
        self.base = base
        self.meta = f"sqlite3://{base}/meta.db"
        self.bucket = os.path.join(base, "objects")
        self.mnt = os.path.join(base, "mnt")
        self.log = os.path.join(base, "mount.log")
        self.current_test = None
        os.mkdir(self.mnt)
        os.chmod(self.mnt, 0o755)

    def run(self, *args, check=True):
        p = subprocess.run([self.bin, *args], capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"sluice {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}\nmount log:\n{self.log_tail()}")
        return p

    def format(self):
        self.run("format", self.meta, "posixvol", "--bucket", self.bucket, *self.format_args)

    def mount(self):
        # The local cache stays inside the test's directory, never in /var/cache/sluice.
        self.run("mount", "-d", self.meta, self.mnt, "--log", self.log, "--cache-dir", os.path.join(self.base, "cache"))
        assert self.mounted(), f"sluice mount returned but {self.mnt} is not mounted\n{self.log_tail()}"

    def umount(self):
        self.run("umount", self.mnt)
        assert not self.mounted(), f"{self.mnt} still mounted after sluice umount"

    def remount(self):
        self.umount()
        self.mount()

    def mounted(self):
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == self.mnt for line in f)

    def log_tail(self, n=200):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError as e:
            return f"(no mount log: {e})"

    def info(self, path):
        return self.run("info", path).stdout


@contextlib.contextmanager
def scratch_volume(binary, prefix, format_args=()):
    """A volume formatted and mounted in a new scratch directory, unmounted and removed after.
    Not under pytest's tmp_path: that is mode 0700, and the permission tests run as nobody."""
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    vol = Volume(binary, base, format_args=format_args)
    vol.format()
    vol.mount()
    try:
        yield vol
    finally:
        try:
            vol.umount()
        finally:
            if vol.mounted():
                subprocess.run(["fusermount3", "-u", "-z", vol.mnt])
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Running code as another user

def as_user(fn, uid=NOBODY, gid=NOBODY, groups=(), umask=0o022):
    """Runs fn() in a forked child with the given real/effective/saved ids and supplementary
    groups; returns its result, or raises the OSError it raised (same errno)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            try:
                os.setgroups(list(groups))
                os.setresgid(gid, gid, gid)
                os.setresuid(uid, uid, uid)
                os.umask(umask)
                out = ("ok", fn())
            except OSError as e:
                out = ("oserror", e.errno, str(e))
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                out = ("error", repr(e))
            data = pickle.dumps(out)
        except BaseException as e:  # noqa: BLE001 - unpicklable result
            data = pickle.dumps(("error", repr(e)))
        os.write(w, data)
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    out = pickle.loads(b"".join(chunks))
    if out[0] == "ok":
        return out[1]
    if out[0] == "oserror":
        raise OSError(out[1], out[2])
    raise AssertionError(f"child failed: {out[1]}")


def err(fn, *args, **kwargs):
    """The errno fn(*args) fails with, or 0 when it succeeds."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        return e.errno
    return 0


def user_err(fn, uid=NOBODY, gid=NOBODY, groups=()):
    """The errno fn() fails with when run as another user, or 0."""
    try:
        as_user(fn, uid, gid, groups)
    except OSError as e:
        return e.errno
    return 0


# ---------------------------------------------------------------------------------------------
# System calls through ctypes

def _check(rc):
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc


AT_FDCWD = -100
SYS_renameat2 = 316  # x86_64
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def renameat2(old, new, flags):
    libc.syscall.restype = ctypes.c_long
    return _check(libc.syscall(ctypes.c_long(SYS_renameat2), ctypes.c_int(AT_FDCWD), os.fsencode(old),
                               ctypes.c_int(AT_FDCWD), os.fsencode(new), ctypes.c_uint(flags)))


FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def fallocate(fd, mode, offset, length):
    return _check(libc.fallocate(fd, mode, offset, length))


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_SYMLINK_NOFOLLOW = 0x100


def utimensat(path, atime, mtime, flags=0):
    """atime/mtime: (sec, nsec) tuples, or UTIME_NOW / UTIME_OMIT as the nsec of (0, x)."""
    ts = (Timespec * 2)(Timespec(*atime), Timespec(*mtime))
    return _check(libc.utimensat(AT_FDCWD, os.fsencode(path), ts, flags))


libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.listxattr.restype = ctypes.c_ssize_t


def getxattr_raw(path, name, size):
    """getxattr(2) with a buffer of `size` bytes (0 asks for the length); returns bytes or length."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(libc.getxattr(os.fsencode(path), os.fsencode(name), buf if size else None, size))
    return buf.raw[:n] if size else n


def listxattr_raw(path, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(libc.listxattr(os.fsencode(path), buf if size else None, size))
    return buf.raw[:n] if size else n


def ns(st):
    """(atime, mtime, ctime) of a stat result in nanoseconds."""
    return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns


def tick():
    """Sleeps long enough that the next timestamp differs (clock granularity is 1 ns, but
    keep clear of equal readings on coarse clocks)."""
    time.sleep(0.01)


def write_file(path, data=b"", mode=0o644):
    """Writes a whole file; a file it creates gets exactly `mode` (whatever the umask)."""
    created = not os.path.lexists(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        if created:
            os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()

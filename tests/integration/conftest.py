"""Fixtures for the FUSE integration tests.

Every test gets volumes of its own: a fresh directory under /tmp holding the SQLite metadata
database, the object bucket, the mount point and the client's log. Synchronisation relies only
on the CLI's contracts: `sluice mount -d` returns once the file system is mounted and
`sluice umount` returns once the client process has exited.
"""

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

import pytest

VOLUME_NAME = "itvol"
MiB = 1 << 20
CHUNK = 64 * MiB
# Generous bound for a single CLI call; a hung mount must not hang the suite forever.
CLI_TIMEOUT = 300


def pytest_configure(config):
    binary = os.environ.get("SLUICE_BIN")
    if not binary:
        raise pytest.UsageError("SLUICE_BIN is not set: point it at the sluice binary "
                                "(scripts/test does: $(swift build -c release --show-bin-path)/sluice)")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise pytest.UsageError(f"SLUICE_BIN={binary} is not an executable file")


def sluice_bin():
    return os.environ["SLUICE_BIN"]


def run_sluice(*args, timeout=CLI_TIMEOUT):
    """Runs the binary and returns the CompletedProcess, whatever its exit status."""
    return subprocess.run([sluice_bin(), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def sluice(*args, timeout=CLI_TIMEOUT):
    """Runs the binary; fails the test with its stderr unless it exits 0. Returns stdout."""
    p = run_sluice(*args, timeout=timeout)
    if p.returncode != 0:
        pytest.fail(f"sluice {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}{p.stdout}")
    return p.stdout


def sluice_error(*args):
    """Runs the binary expecting failure: non-zero exit, exactly one line on stderr, which is
    returned (without its newline)."""
    p = run_sluice(*args)
    assert p.returncode != 0, f"sluice {' '.join(map(str, args))} succeeded:\n{p.stdout}"
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {p.stderr!r}"
    return lines[0]


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mp)
            if mp == path:
                return True
    return False


OBJECT_KEY = re.compile(r"^(?P<vol>[^/]+)/chunks/(?P<d1>\d+)/(?P<d2>\d+)/(?P<id>\d+)_(?P<index>\d+)_(?P<len>\d+)$")


class Volume:
    """One formatted volume in its own temporary directory."""

    def __init__(self, name=VOLUME_NAME):
        self.root = tempfile.mkdtemp(prefix="sluice-it-", dir="/tmp")
        self.name = name
        self.db = os.path.join(self.root, "meta.db")
        self.meta_url = f"sqlite3://{self.db}"
        self.bucket = os.path.join(self.root, "objects")
        self.mnt = os.path.join(self.root, "mnt")
        self.log = os.path.join(self.root, "mount.log")
        self.pids = []  # every client this volume started, for cleanup
        self.mount_args = ()  # given to every (re)mount
        os.mkdir(self.mnt)

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def format(self, *extra):
        return sluice("format", self.meta_url, self.name, "--bucket", self.bucket, *extra)

    @property
    def cache_dir(self):
        """The client's local cache directory: inside the volume's directory, so tests never
        fill the system's /var/cache/sluice."""
        return os.path.join(self.root, "cache")

    def cache_args(self, *given):
        """`--cache-dir` for this volume unless the arguments name one already."""
        return () if "--cache-dir" in given else ("--cache-dir", self.cache_dir)

    def mount(self, *extra):
        args = (*self.mount_args, *extra)
        sluice("mount", "-d", self.meta_url, self.mnt, "--log", self.log, *self.cache_args(*args), *args)
        assert is_mounted(self.mnt), "mount -d returned but the mount point is not mounted"
        self.pids.append(self.pid())

    @property
    def mounted(self):
        return is_mounted(self.mnt)

    def pid(self):
        return int(os.getxattr(self.mnt, "sluice.pid"))

    def umount(self):
        pid = self.pid()
        sluice("umount", self.mnt)
        assert not self.mounted, "umount returned but the mount point is still mounted"
        assert not pid_alive(pid), f"umount returned but client {pid} still runs"

    def remount(self):
        self.umount()
        self.mount()

    def objects(self):
        """Object keys (relative to the bucket) with their sizes on disk."""
        out = {}
        for dirpath, _, files in os.walk(self.bucket):
            for f in files:
                if f.startswith(".sluice-tmp."):
                    continue
                full = os.path.join(dirpath, f)
                out[os.path.relpath(full, self.bucket)] = os.path.getsize(full)
        return out

    def is_client(self, pid):
        """True if `pid` is still a client of this volume (and not a recycled process id)."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return self.meta_url.encode() in f.read().split(b"\0")
        except OSError:
            return False

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no mount log)"

    def cleanup(self):
        """Unmounts (forcing it if a plain umount fails) and removes the directory. A client
        still alive after that (e.g. one stuck in a loop) is killed: tests must not leak
        processes."""
        if self.mounted and run_sluice("umount", self.mnt, timeout=120).returncode != 0 and self.mounted:
            if run_sluice("umount", "--force", self.mnt, timeout=120).returncode != 0 and self.mounted:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        for pid in self.pids:
            if pid_alive(pid) and self.is_client(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited too (the daemon is not our child, but be precise anyway).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def make_volume(request):
    """Factory: make_volume(format_args=(...), mount=True) -> Volume; all are cleaned up."""
    made = []
    request.node._sluice_volumes = made

    def make(format_args=(), mount=True, formatted=True):
        v = Volume()
        made.append(v)
        if formatted:
            v.format(*format_args)
        if formatted and mount:
            v.mount()
        return v

    yield make
    for v in made:
        v.cleanup()


@pytest.fixture
def volume(make_volume):
    """A freshly formatted volume (4 MiB blocks), mounted."""
    return make_volume()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        for i, v in enumerate(getattr(item, "_sluice_volumes", [])):
            report.sections.append((f"mount log {i} ({v.log})", v.read_log()))


# ---- helpers shared by the tests -------------------------------------------------------------

def file_sha256(path, bufsize=4 * MiB):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                return h.hexdigest()
            h.update(b)


def tree_digest(root, with_times=True):
    """A description of everything under `root` (not following symlinks): type, mode, owner,
    size, link count, mtime, content hash or link target, per relative path."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            desc = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink]
            if with_times:
                desc.append(st.st_mtime_ns)
            if stat.S_ISREG(st.st_mode):
                desc += [st.st_size, file_sha256(full)]
            elif stat.S_ISLNK(st.st_mode):
                desc.append(os.readlink(full))
            out[rel] = tuple(desc)
    return out


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()

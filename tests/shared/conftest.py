"""Fixtures for the shared-volume tests: real metadata engines and several clients of one volume.

The Redis server and the PostgreSQL cluster are started by this suite on free loopback ports
with their data in temporary directories (tests/shared/engines.py), once per session, and
stopped at its end; each test gets a Redis key prefix or a PostgreSQL database of its own. A
missing redis-server or PostgreSQL is a failure with an install hint, never a skip.

A `SharedVolume` is one formatted volume (meta URL + bucket directory) that any number of
`sluice mount -d` clients mount on mount points of their own. Synchronisation relies on the
CLI's contracts: `mount -d` returns once mounted, `umount` once the client has exited.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import EngineUnavailable, PostgresServer, RedisServer  # noqa: E402

MiB = 1 << 20
CLI_TIMEOUT = 300
ENGINES = ["sqlite", "redis", "postgres"]


def pytest_configure(config):
    binary = os.environ.get("SLUICE_BIN")
    if not binary:
        raise pytest.UsageError("SLUICE_BIN is not set: point it at the sluice binary "
                                "(scripts/test does: $(swift build --show-bin-path)/sluice)")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise pytest.UsageError(f"SLUICE_BIN={binary} is not an executable file")


# ---- the CLI ---------------------------------------------------------------------------------

def run_sluice(*args, timeout=CLI_TIMEOUT, stdin=None):
    return subprocess.run([os.environ["SLUICE_BIN"], *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin if stdin is not None else subprocess.DEVNULL)


def sluice(*args, timeout=CLI_TIMEOUT, stdin=None):
    """Runs the binary; fails the test with its output unless it exits 0. Returns stdout."""
    p = run_sluice(*args, timeout=timeout, stdin=stdin)
    if p.returncode != 0:
        pytest.fail(f"sluice {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}{p.stdout}")
    return p.stdout


def status(meta_url):
    return json.loads(sluice("status", meta_url))


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if mp == path:
                return True
    return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def poll(predicate, seconds, what, interval=0.1):
    """Waits for an asynchronous effect: returns the first true value of `predicate`, or fails
    the test when `seconds` pass. Never used where a synchronous contract exists."""
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not within {seconds} s (last: {value!r})")


# ---- engines -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_server():
    try:
        server = RedisServer()
    except EngineUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = PostgresServer()
    except EngineUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


_counter = [0]


def _unique(prefix):
    _counter[0] += 1
    return f"{prefix}{os.getpid()}x{_counter[0]}"


@pytest.fixture
def redis(redis_server):
    """A Redis URL whose key prefix no other test uses."""
    return redis_server.url(0, _unique("t"))


@pytest.fixture
def postgres(postgres_server):
    """A PostgreSQL URL on a database of this test's own."""
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture
def sqlite(tmp_path_factory):
    return f"sqlite3://{tmp_path_factory.mktemp('sqlite')}/meta.db"


@pytest.fixture(params=ENGINES)
def engine_url(request):
    return request.getfixturevalue(request.param)


# ---- volumes and clients -------------------------------------------------------------------

class Mount:
    """One client: a `sluice mount -d` process on a mount point of its own."""

    def __init__(self, volume, name, args):
        self.volume = volume
        self.name = name
        self.args = tuple(args)
        self.mnt = os.path.join(volume.root, f"mnt-{name}")
        self.log = os.path.join(volume.root, f"mount-{name}.log")
        os.makedirs(self.mnt, exist_ok=True)
        self.pid = None

    def mount(self):
        # Each client's local cache stays inside the test's directory, never in /var/cache/sluice.
        cache = () if "--cache-dir" in self.args else ("--cache-dir", os.path.join(self.volume.root, f"cache-{self.name}"))
        sluice("mount", "-d", self.volume.meta_url, self.mnt, "--log", self.log, *cache, *self.args)
        assert is_mounted(self.mnt), f"mount -d returned but {self.mnt} is not mounted"
        self.pid = int(os.getxattr(self.mnt, "sluice.pid"))
        return self

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    @property
    def mounted(self):
        return is_mounted(self.mnt)

    def umount(self):
        pid = self.pid
        sluice("umount", self.mnt)
        assert not self.mounted, "umount returned but the mount point is still mounted"
        assert not pid_alive(pid), f"umount returned but client {pid} still runs"

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-20000:]
        except FileNotFoundError:
            return "(no log)"

    def cleanup(self):
        if self.mounted and run_sluice("umount", self.mnt, timeout=120).returncode != 0 and self.mounted:
            if run_sluice("umount", "--force", self.mnt, timeout=120).returncode != 0 and self.mounted:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.pid and pid_alive(self.pid) and _is_client(self.pid, self.mnt):
            os.kill(self.pid, signal.SIGKILL)


def _is_client(pid, mnt):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return mnt.encode() in f.read().split(b"\0")
    except OSError:
        return False


class SharedVolume:
    """One volume (metadata URL + bucket directory) for any number of clients."""

    def __init__(self, meta_url, name="shvol", root=None, bucket=None):
        self.root = root or tempfile.mkdtemp(prefix="sluice-sh-", dir="/tmp")
        self.meta_url = meta_url
        self.name = name
        self.bucket = bucket or os.path.join(self.root, "objects")
        self.mounts = []

    def format(self, *extra):
        return sluice("format", self.meta_url, self.name, "--bucket", self.bucket, *extra)

    def client(self, *args, name=None):
        """Mounts a new client (`args` go to `sluice mount`) and returns it."""
        m = Mount(self, name or chr(ord("a") + len(self.mounts)), args)
        self.mounts.append(m)
        return m.mount()

    def cleanup(self):
        for m in self.mounts:
            m.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def make_volume(request):
    """Factory: make_volume(meta_url, formatted=True, **kw) -> SharedVolume; all cleaned up."""
    made = []
    request.node._shared_volumes = made

    def make(meta_url, formatted=True, format_args=(), **kw):
        v = SharedVolume(meta_url, **kw)
        made.append(v)
        if formatted:
            v.format(*format_args)
        return v

    yield make
    for v in made:
        v.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        for v in getattr(item, "_shared_volumes", []):
            for m in v.mounts:
                report.sections.append((f"mount log {m.name} ({m.log})", m.read_log()))


# ---- content helpers -----------------------------------------------------------------------

def file_sha256(path, bufsize=4 * MiB):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                return h.hexdigest()
            h.update(b)


def tree_digest(root):
    """Type, mode, owner, link count, mtime, and content hash or link target per relative path
    (symlinks not followed)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            desc = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink,
                    st.st_mtime_ns]
            if stat.S_ISREG(st.st_mode):
                desc += [st.st_size, file_sha256(full)]
            elif stat.S_ISLNK(st.st_mode):
                desc.append(os.readlink(full))
            out[os.path.relpath(full, root)] = tuple(desc)
    return out


def pattern(seed, size):
    """Deterministic, incompressible-enough bytes for `size`."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    reps = size // len(block) + 1
    return (block * reps)[:size]


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def everyday_workload(root):
    """A quick everyday workload under `root`: a tree, files of several sizes (one > 4 MiB, so
    it spans blocks), rename, hard link, symlink, truncate, unlink. Returns nothing; callers
    compare tree digests."""
    os.makedirs(os.path.join(root, "src/lib/deep"))
    os.makedirs(os.path.join(root, "docs"))
    sizes = {"empty": 0, "tiny": 1, "small": 4096 + 7, "medium": 300_000, "big": 5 * MiB + 12345}
    for i, (name, size) in enumerate(sizes.items()):
        write_file(os.path.join(root, "src", name), pattern(i, size))
        assert read_file(os.path.join(root, "src", name)) == pattern(i, size)
    write_file(os.path.join(root, "src/lib/deep/leaf.txt"), b"leaf\n")
    os.rename(os.path.join(root, "src/medium"), os.path.join(root, "docs/medium-renamed"))
    os.rename(os.path.join(root, "src/lib/deep"), os.path.join(root, "docs/deep"))
    os.link(os.path.join(root, "src/small"), os.path.join(root, "docs/small-link"))
    os.symlink("../src/big", os.path.join(root, "docs/big-symlink"))
    os.truncate(os.path.join(root, "src/big"), 4 * MiB + 100)
    with open(os.path.join(root, "src/tiny"), "r+b") as f:
        f.truncate(70_000)  # extends with zeros
    os.unlink(os.path.join(root, "src/empty"))
    with open(os.path.join(root, "docs/medium-renamed"), "r+b") as f:
        f.seek(1000)
        f.write(b"overwritten in the middle")
    os.chmod(os.path.join(root, "docs/deep/leaf.txt"), 0o600)
    big = read_file(os.path.join(root, "src/big"))
    assert big == pattern(4, 5 * MiB + 12345)[:4 * MiB + 100]
    assert read_file(os.path.join(root, "docs/big-symlink")) == big
    assert os.stat(os.path.join(root, "src/small")).st_nlink == 2
    assert read_file(os.path.join(root, "src/tiny")) == pattern(1, 1) + bytes(69_999)


# ---- helper processes ----------------------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))


class Driver:
    """A lockdriver.py process: holds files open and takes locks on command."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "lockdriver.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.read(30)["pid"]

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self, timeout):
        """The next reply, or None if none comes within `timeout` seconds."""
        import select
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        assert line, f"lock driver {self.proc.pid} exited ({self.proc.poll()})"
        return json.loads(line)

    def do(self, timeout=60, **cmd):
        self.send(**cmd)
        reply = self.read(timeout)
        assert reply is not None, f"no reply to {cmd} within {timeout} s"
        return reply

    def ok(self, **cmd):
        reply = self.do(**cmd)
        assert reply["ok"], f"{cmd} failed: {os.strerror(reply['errno'])}"
        return reply

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)


@pytest.fixture
def drivers():
    """Factory of Driver processes, all killed at the end."""
    made = []

    def make():
        d = Driver()
        made.append(d)
        return d

    yield make
    for d in made:
        d.kill()

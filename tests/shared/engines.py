"""Throwaway metadata engine servers on loopback: a redis-server and a PostgreSQL 15 cluster.

Plain Python (no pytest), so that bench/meta-engines uses the same code as the tests. Each
server lives in a temporary directory, listens on a free 127.0.0.1 port, depends on no system
service and is stopped (its directory removed) by `stop()`. A missing binary raises
`EngineUnavailable` with the package to install: the tests turn that into a failure.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_PASSWORD = "sluice-test-pw"


class EngineUnavailable(RuntimeError):
    pass


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds, what, interval=0.05):
    """Polls `predicate` until it returns a true value (returned) or `seconds` pass (raises)."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported if the deadline passes
            last = e
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {seconds} s" + (f" (last error: {last})" if last else ""))


class RedisServer:
    """redis-server with an append-only file fsynced on every write, so that a SIGKILL loses
    nothing acknowledged and a restart on the same directory brings everything back."""

    def __init__(self):
        self.exe = shutil.which("redis-server") or next(
            (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(p, os.X_OK)), None)
        if not self.exe:
            raise EngineUnavailable("redis-server is not installed: apt-get install -y redis-server "
                                    "(scripts/install-deps does)")
        self.dir = tempfile.mkdtemp(prefix="sluice-redis-", dir="/tmp")
        self.port = free_port()
        self.proc = None
        self.start()

    def url(self, db=0, prefix=None):
        return f"redis://127.0.0.1:{self.port}/{db}" + (f"/{prefix}" if prefix else "")

    @property
    def log(self):
        return os.path.join(self.dir, "redis.log")

    def start(self):
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", self.dir, "--logfile", self.log, "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._ready, 20, f"redis-server on port {self.port} answering PING")

    def _ready(self):
        if self.proc.poll() is not None:
            raise EngineUnavailable(f"redis-server exited with {self.proc.returncode}: {self.log_tail()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            # -LOADING while the AOF is replayed: not ready yet.
            return s.recv(64).startswith(b"+PONG")

    def log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def restart_after_crash(self):
        self.kill()
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """A PostgreSQL 15 cluster made with initdb. initdb refuses to run as root, so as root the
    cluster belongs to the `postgres` OS user (created by Debian's postgresql package) and the
    server programs run through runuser. The superuser logs in with a password over TCP and
    without one over the Unix socket in the cluster directory."""

    def __init__(self):
        if not os.access(f"{PG_BIN}/initdb", os.X_OK):
            raise EngineUnavailable(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb is missing): "
                                    "apt-get install -y postgresql (scripts/install-deps does)")
        self.as_root = os.geteuid() == 0
        # In /tmp itself: the Unix socket goes there and socket paths must be short.
        self.dir = f"/tmp/sluice-pg-{uuid.uuid4().hex[:8]}"
        os.mkdir(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.databases = 0
        try:
            if self.as_root:
                shutil.chown(self.dir, "postgres", "postgres")
            pwfile = os.path.join(self.dir, "pwfile")
            with open(pwfile, "w") as f:
                f.write(PG_PASSWORD + "\n")
            if self.as_root:
                shutil.chown(pwfile, "postgres", "postgres")
            self._run("initdb", "-D", self.data, "-U", "postgres", f"--pwfile={pwfile}", "--auth-local=trust",
                      "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
            self.pg_ctl("start", "-w", "-t", "60", "-o", self.options, "-l", os.path.join(self.dir, "log"))
        except BaseException:
            self.stop()
            raise

    @property
    def options(self):
        return (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c max_connections=200")

    def _run(self, program, *args, timeout=120):
        cmd = [f"{PG_BIN}/{program}", *args]
        if self.as_root:
            cmd = ["/usr/sbin/runuser", "-u", "postgres", "--", *cmd]
        # stdout to a file, not a pipe: pg_ctl start leaves the server holding what it inherited.
        with tempfile.TemporaryFile() as out:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=timeout, cwd="/tmp")
            if p.returncode != 0:
                out.seek(0)
                raise RuntimeError(f"{program} {' '.join(args)} exited {p.returncode}: "
                                   f"{out.read().decode(errors='replace')}")

    def pg_ctl(self, *args):
        self._run("pg_ctl", "-D", self.data, *args)

    def restart(self):
        """`pg_ctl restart -m fast`: open connections are cut, as an operator's restart does."""
        self.pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-o", self.options, "-l", os.path.join(self.dir, "log"))

    def create_database(self, name=None):
        self.databases += 1
        name = name or f"db{self.databases}_{uuid.uuid4().hex[:6]}"
        self._run("createdb", "-h", self.dir, "-p", str(self.port), "-U", "postgres", name)
        return name

    def url(self, database):
        return f"postgres://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self.pg_ctl("stop", "-w", "-t", "30", "-m", "immediate")
            except Exception:  # noqa: BLE001 - thrown away anyway
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

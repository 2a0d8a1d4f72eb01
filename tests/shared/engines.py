"""Throwaway servers on loopback: a redis-server and a PostgreSQL 15 cluster (plain or TLS), and
moto's S3 server (https) for the TLS tests.

Plain Python (no pytest), so that bench/meta-engines uses the same code as the tests. Each
server lives in a temporary directory, listens on a free 127.0.0.1 port, depends on no system
service and is stopped (its directory removed) by `stop()`. A missing binary raises
`EngineUnavailable` with the package to install: the tests turn that into a failure.
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
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


class Certificates:
    """A throwaway CA and a server certificate it signed (P-256 keys, made with openssl) in
    `directory`, plus an unrelated CA for wrong-CA tests. `names` are the server's subject
    alternative names."""

    def __init__(self, directory, names="IP:127.0.0.1,DNS:localhost"):
        if not shutil.which("openssl"):
            raise EngineUnavailable("openssl is not installed: apt-get install -y openssl (scripts/install-deps does)")
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.other_ca = os.path.join(directory, "other-ca.pem")
        self.cert = os.path.join(directory, "server.pem")
        self.key = os.path.join(directory, "server.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self._openssl("req", "-x509", *ec, "-keyout", os.path.join(directory, "ca.key"), "-out", self.ca,
                      "-days", "2", "-subj", "/CN=Sluice Test CA")
        self._openssl("req", "-x509", *ec, "-keyout", os.path.join(directory, "other-ca.key"), "-out", self.other_ca,
                      "-days", "2", "-subj", "/CN=Some Other CA")
        ext = os.path.join(directory, "server.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        csr = os.path.join(directory, "server.csr")
        self._openssl("req", *ec, "-keyout", self.key, "-out", csr, "-subj", "/CN=localhost")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", os.path.join(directory, "ca.key"),
                      "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)
        for name in ("ca.key", "other-ca.key", "server.key"):
            os.chmod(os.path.join(directory, name), 0o600)

    @staticmethod
    def _openssl(*args):
        p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} exited {p.returncode}: {p.stderr}")


class RedisServer:
    """redis-server with an append-only file fsynced on every write, so that a SIGKILL loses
    nothing acknowledged and a restart on the same directory brings everything back. With
    `tls`, it listens for TLS only, with a certificate from a throwaway CA (`certs`)."""

    def __init__(self, tls=False):
        self.exe = shutil.which("redis-server") or next(
            (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(p, os.X_OK)), None)
        if not self.exe:
            raise EngineUnavailable("redis-server is not installed: apt-get install -y redis-server "
                                    "(scripts/install-deps does)")
        self.dir = tempfile.mkdtemp(prefix="sluice-redis-", dir="/tmp")
        self.port = free_port()
        self.proc = None
        self.certs = Certificates(os.path.join(self.dir, "tls")) if tls else None
        self.start()

    def url(self, db=0, prefix=None, ca=None):
        """The engine URL; over TLS verified against `ca` (default: the server's own CA)."""
        path = f"127.0.0.1:{self.port}/{db}" + (f"/{prefix}" if prefix else "")
        if not self.certs:
            return "redis://" + path
        return f"rediss://{path}?tls-ca-file={ca or self.certs.ca}"

    @property
    def log(self):
        return os.path.join(self.dir, "redis.log")

    def start(self):
        listen = ["--port", str(self.port)]
        if self.certs:
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.certs.cert,
                      "--tls-key-file", self.certs.key, "--tls-ca-cert-file", self.certs.ca, "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(
            [self.exe, *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", self.dir, "--logfile", self.log, "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._ready, 20, f"redis-server on port {self.port} answering PING")

    def _ready(self):
        if self.proc.poll() is not None:
            raise EngineUnavailable(f"redis-server exited with {self.proc.returncode}: {self.log_tail()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
            s = (ssl.create_default_context(cafile=self.certs.ca).wrap_socket(raw, server_hostname="127.0.0.1")
                 if self.certs else raw)
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
    without one over the Unix socket in the cluster directory. With `tls`, the server also
    accepts TLS (`ssl=on`) with a certificate from a throwaway CA (`certs`)."""

    def __init__(self, tls=False):
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
        self.certs = None
        try:
            if tls:
                self.certs = Certificates(os.path.join(self.dir, "tls"))
            if self.as_root:
                # The server insists on owning its key file.
                for d, _, files in os.walk(self.dir):
                    shutil.chown(d, "postgres", "postgres")
                    for f in files:
                        shutil.chown(os.path.join(d, f), "postgres", "postgres")
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
        tls = f" -c ssl=on -c ssl_cert_file={self.certs.cert} -c ssl_key_file={self.certs.key}" if self.certs else ""
        return (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c max_connections=200" + tls)

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

    def url(self, database, query="sslmode=disable"):
        return f"postgres://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}?{query}"

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self.pg_ctl("stop", "-w", "-t", "30", "-m", "immediate")
            except Exception:  # noqa: BLE001 - thrown away anyway
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class MotoHTTPSServer:
    """moto's S3 server (`python3 -m moto.server`) serving https with a certificate from a
    throwaway CA (`certs`), and one empty bucket."""

    def __init__(self, bucket="sluice-tls"):
        try:
            import boto3  # noqa: F401
            import moto.server  # noqa: F401
        except ImportError:
            raise EngineUnavailable("moto is not installed: python3 -m pip install 'moto[server]' boto3 "
                                    "(scripts/install-deps does)")
        self.dir = tempfile.mkdtemp(prefix="sluice-moto-", dir="/tmp")
        self.certs = Certificates(os.path.join(self.dir, "tls"))
        self.port = free_port()
        self.bucket = bucket
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port),
             "--ssl-cert", self.certs.cert, "--ssl-key", self.certs.key],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait_until(self._ready, 60, f"moto https server on port {self.port}")
            import boto3
            boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                         aws_secret_access_key="testing", verify=self.certs.ca).create_bucket(Bucket=bucket)
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"

    def bucket_url(self, prefix=""):
        return f"{self.endpoint}/{self.bucket}" + (f"/{prefix}" if prefix else "")

    def _ready(self):
        if self.proc.poll() is not None:
            raise EngineUnavailable(f"moto server exited with {self.proc.returncode}")
        context = ssl.create_default_context(cafile=self.certs.ca)
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                return True

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

"""Volumes over TLS links: metadata on rediss:// (verified with tls-ca-file) and on PostgreSQL
with sslmode=verify-full + sslrootcert, objects on S3 over https (moto) with --ca-file. Each
formats, mounts and does file I/O; a wrong CA is one error line at format, not a hang."""

import os
import time

import pytest

from conftest import everyday_workload, pattern, read_file, run_sluice, tree_digest, write_file
from engines import EngineUnavailable, MotoHTTPSServer, PostgresServer, RedisServer

MiB = 1 << 20


def _start(factory):
    try:
        return factory()
    except EngineUnavailable as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def redis_tls():
    server = _start(lambda: RedisServer(tls=True))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_tls():
    server = _start(lambda: PostgresServer(tls=True))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto_https():
    server = _start(MotoHTTPSServer)
    yield server
    server.stop()


def one_line_error(*args, env=None, within=60):
    """Runs sluice expecting failure: non-zero exit, one line on stderr, and no long wait."""
    started = time.monotonic()
    p = run_sluice(*args) if env is None else _run_with_env(args, env)
    assert p.returncode != 0, f"sluice {args} succeeded:\n{p.stdout}"
    lines = p.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {p.stderr!r}"
    assert time.monotonic() - started < within, "failed, but only after a long wait"
    return lines[0]


def _run_with_env(args, env):
    import subprocess
    return subprocess.run([os.environ["SLUICE_BIN"], *map(str, args)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, **env})


def io_round_trip(vol):
    """Everyday workload, remount, same tree; returns the last client (mounted)."""
    a = vol.client()
    everyday_workload(a.mnt)
    before = tree_digest(a.mnt)
    a.umount()
    b = vol.client()
    assert tree_digest(b.mnt) == before
    return b


def test_rediss_volume(make_volume, redis_tls):
    vol = make_volume(redis_tls.url(0, "tlsvol"))
    b = io_round_trip(vol)
    # The server crashes and comes back: the client reconnects (new TLS sessions) and goes on.
    redis_tls.restart_after_crash()
    write_file(b.path("after-restart"), pattern(7, 3 * MiB))
    assert read_file(b.path("after-restart")) == pattern(7, 3 * MiB)
    b.umount()
    c = vol.client()
    assert read_file(c.path("after-restart")) == pattern(7, 3 * MiB)


def test_rediss_wrong_ca_fails_at_format(make_volume, redis_tls, tmp_path):
    url = redis_tls.url(0, "wrongca", ca=redis_tls.certs.other_ca)
    vol = make_volume(url, formatted=False)
    line = one_line_error("format", url, vol.name, "--bucket", vol.bucket)
    assert "TLS with redis at 127.0.0.1:" in line and "CERTIFICATE_VERIFY_FAILED" in line, line
    missing = redis_tls.url(0, "wrongca", ca=str(tmp_path / "missing.pem"))
    line = one_line_error("format", missing, vol.name, "--bucket", vol.bucket)
    assert "tls-ca-file" in line and "cannot be read" in line, line


def test_postgres_verify_full_volume(make_volume, postgres_tls):
    db = postgres_tls.create_database()
    url = postgres_tls.url(db, f"sslmode=verify-full&sslrootcert={postgres_tls.certs.ca}")
    vol = make_volume(url)
    io_round_trip(vol).umount()
    wrong = postgres_tls.url(db, f"sslmode=verify-full&sslrootcert={postgres_tls.certs.other_ca}")
    line = one_line_error("status", wrong)
    assert "TLS handshake failed: CERTIFICATE_VERIFY_FAILED" in line and "sluice-test-pw" not in line, line


def test_s3_https_volume_with_ca_file(make_volume, moto_https, tmp_path):
    creds = ("--access-key", "testing", "--secret-key", "testing")
    bucket = moto_https.bucket_url("vol1")
    vol = make_volume(f"sqlite3://{tmp_path}/meta.db", bucket=bucket,
                      format_args=("--storage", "s3", *creds, "--ca-file", moto_https.certs.ca))
    b = io_round_trip(vol)
    write_file(b.path("blob"), pattern(3, 9 * MiB))
    b.umount()
    c = vol.client()
    assert read_file(c.path("blob")) == pattern(3, 9 * MiB)
    c.umount()

    meta = f"sqlite3://{tmp_path}/other.db"
    common = ("format", meta, "other", "--storage", "s3", "--bucket", moto_https.bucket_url("vol2"), *creds)
    # Without a CA the system trust store is used, which does not know the test CA.
    line = one_line_error(*common)
    assert "CERTIFICATE_VERIFY_FAILED" in line, line
    line = one_line_error(*common, "--ca-file", moto_https.certs.other_ca)
    assert "CERTIFICATE_VERIFY_FAILED" in line, line
    # SLUICE_CA_FILE stands in for --ca-file, and wins over it.
    line = one_line_error(*common, "--ca-file", moto_https.certs.ca, env={"SLUICE_CA_FILE": moto_https.certs.other_ca})
    assert "CERTIFICATE_VERIFY_FAILED" in line, line
    p = _run_with_env(common, {"SLUICE_CA_FILE": moto_https.certs.ca})
    assert p.returncode == 0, p.stderr
    line = one_line_error(*common, "--ca-file", str(tmp_path / "none.pem"))
    assert "cannot be read" in line, line
    line = one_line_error("format", meta, "x", "--bucket", str(tmp_path / "dir"), "--ca-file", moto_https.certs.ca)
    assert "--ca-file applies to s3 storage over https only" in line, line

"""The metadata server restarts under a writer: operations may fail with EIO meanwhile, but the
mount survives, every file whose fsync succeeded is intact, and new writes work."""

import os
import subprocess
import sys

import pytest

from conftest import HERE, file_sha256, pid_alive, poll, read_file, write_file


def journal(path):
    try:
        with open(path) as f:
            return [line.split() for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def ok_count(path):
    return sum(1 for e in journal(path) if e[0] == "OK")


@pytest.mark.parametrize("engine", ["redis", "postgres"])
def test_engine_restart_under_writes(make_volume, request, engine, redis_server, postgres_server, tmp_path):
    url = request.getfixturevalue(engine)
    vol = make_volume(url)
    a = vol.client()
    os.mkdir(a.path("w"))
    log, stop = tmp_path / "journal", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, os.path.join(HERE, "writer.py"), a.path("w"), log, stop],
                              stdin=subprocess.DEVNULL)
    try:
        poll(lambda: ok_count(log) >= 15, 60, "15 files written before the restart")
        if engine == "redis":
            redis_server.restart_after_crash()  # kill -9, then the same AOF directory and port
        else:
            postgres_server.restart()  # pg_ctl restart -m fast
        before = ok_count(log)
        poll(lambda: ok_count(log) >= before + 15 or writer.poll() is not None, 90,
             "15 more files written after the restart")
        assert writer.poll() is None, f"the writer died with {writer.returncode}"
    finally:
        stop.touch()
        writer.wait(timeout=120)
    assert writer.returncode == 0

    assert a.mounted and pid_alive(a.pid), "the mount did not survive the engine restart"
    entries = journal(log)
    failures = [e for e in entries if e[0] == "ERR"]
    assert all(int(e[2]) == 5 for e in failures), f"failures other than EIO: {failures}"
    done = {name: sha for kind, name, sha in (e for e in entries if e[0] == "OK")}
    assert len(done) >= 30
    for name, sha in done.items():
        assert file_sha256(a.path("w", name)) == sha, f"{name} damaged"
    # New writes work, and everything is in the engine, not just in this client: a new client
    # (after this one is gone) sees the same.
    write_file(a.path("new"), b"after the restart")
    a.umount()
    b = vol.client()
    assert read_file(b.path("new")) == b"after the restart"
    for name, sha in done.items():
        assert file_sha256(b.path("w", name)) == sha, f"{name} damaged after remount"
    b.umount()

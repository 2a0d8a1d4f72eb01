"""A client that dies (SIGKILL) leaves its session behind; the surviving client removes it
once its heartbeat is older than the session timeout, releasing its locks and deleting the
inodes it kept alive after unlink."""

import errno
import os
import signal
import subprocess

from conftest import pid_alive, poll, read_file, status, write_file

TIMEOUT = "6"  # seconds: heartbeat every 1.5 s, sweep every 3 s (see BackgroundWorker)


def test_dead_client_is_cleaned_up(make_volume, engine_url, drivers):
    vol = make_volume(engine_url)
    a = vol.client("--session-timeout", TIMEOUT)
    b = vol.client("--session-timeout", TIMEOUT, "--attr-cache", "0", "--entry-cache", "0")
    write_file(a.path("locked"), b"x")
    holder, other = drivers(), drivers()
    holder.ok(op="open", path=a.path("locked"))
    holder.ok(op="setlk", type="w", start=0, len=0)
    holder.ok(op="flock", how="ex")
    # An inode unlinked while a holds it open lives on under a's session.
    holder.ok(op="open", fd="ghost", path=a.path("ghost"))
    os.unlink(a.path("ghost"))
    inodes_with_ghost = status(vol.meta_url)["usage"]["usedInodes"]

    other.ok(op="open", path=b.path("locked"))
    assert other.do(op="setlk", type="w", start=0, len=0)["errno"] in (errno.EAGAIN, errno.EACCES)
    assert other.do(op="flock", how="ex", nb=True)["errno"] == errno.EWOULDBLOCK
    assert len(status(vol.meta_url)["sessions"]) == 2

    # The crash: the client dies with its locks held and its file open. The holder dies after
    # it, so its close never reaches any client; the dead FUSE mount is detached.
    os.kill(a.pid, signal.SIGKILL)
    poll(lambda: not pid_alive(a.pid), 30, "the killed client to exit")
    holder.kill()
    subprocess.run(["umount", "-l", a.mnt], check=True)

    # b's background worker removes the session within about 1.5 timeouts.
    poll(lambda: [s["processID"] for s in status(vol.meta_url)["sessions"]] == [b.pid], 30,
         "b removing a's dead session", interval=0.5)
    assert f"removed stale session" in b.read_log()
    # Its locks went with it.
    other.ok(op="setlk", type="w", start=0, len=0)
    other.ok(op="flock", how="ex", nb=True)
    other.ok(op="close")
    # And so did the inode it kept alive.
    assert status(vol.meta_url)["usage"]["usedInodes"] == inodes_with_ghost - 1
    # b never counted itself as dead, and works on.
    write_file(b.path("after"), b"after")
    assert read_file(b.path("after")) == b"after"
    b.umount()
    assert status(vol.meta_url)["sessions"] == []

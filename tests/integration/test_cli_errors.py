"""CLI errors: one clear line on stderr, a non-zero exit, and nothing changed."""

import hashlib
import json
import os
import sqlite3

import pytest

from conftest import is_mounted, sluice, sluice_error


def snapshot(root):
    """Every path under `root` with a hash of its content (files) — to prove nothing changed."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture
def scratch(make_volume):
    """An unformatted volume directory (nothing but an empty mount point)."""
    return make_volume(formatted=False)


def test_unknown_scheme(scratch):
    before = snapshot(scratch.root)
    for args in (["format", "foo://x", "v", "--bucket", scratch.bucket],
                 ["mount", "-d", "foo://x", scratch.mnt, "--log", scratch.log],
                 ["status", "foo://x"],
                 ["format", "no-scheme-at-all", "v", "--bucket", scratch.bucket]):
        line = sluice_error(*args)
        assert "foo" in line or "scheme" in line, line
    assert not is_mounted(scratch.mnt)
    # Neither a database, nor a bucket directory, nor a log appeared.
    assert snapshot(scratch.root) == before
    assert not os.path.exists("foo:")


def test_garbage_database_file(scratch):
    garbage = os.urandom(8192)
    with open(scratch.db, "wb") as f:
        f.write(garbage)
    before = snapshot(scratch.root)
    for args in (["status", scratch.meta_url],
                 ["mount", "-d", scratch.meta_url, scratch.mnt, "--log", scratch.log],
                 ["format", scratch.meta_url, "v", "--bucket", scratch.bucket],
                 ["format", scratch.meta_url, "v", "--bucket", scratch.bucket, "--force"]):
        line = sluice_error(*args)
        assert scratch.db in line and "not a database" in line, line
    assert not is_mounted(scratch.mnt)
    assert snapshot(scratch.root) == before
    with open(scratch.db, "rb") as f:
        assert f.read() == garbage


def test_unreadable_database_path(scratch):
    # A directory where the database file should be: SQLite cannot open it (root reads any
    # file, so permission bits would not make it unreadable).
    os.mkdir(scratch.db)
    before = snapshot(scratch.root)
    for args in (["status", scratch.meta_url],
                 ["mount", "-d", scratch.meta_url, scratch.mnt, "--log", scratch.log]):
        line = sluice_error(*args)
        assert scratch.db in line, line
    assert snapshot(scratch.root) == before


def test_unformatted_database(scratch):
    # A database that does not exist is not created by mount or status.
    for args in (["mount", "-d", scratch.meta_url, scratch.mnt, "--log", scratch.log],
                 ["status", scratch.meta_url]):
        line = sluice_error(*args)
        assert "does not exist" in line, line
        assert not os.path.exists(scratch.db)
    # An SQLite database that is not Sluice's is left exactly as it was.
    con = sqlite3.connect(scratch.db)
    con.execute("CREATE TABLE unrelated (x)")
    con.close()
    before = snapshot(scratch.root)
    line = sluice_error("mount", "-d", scratch.meta_url, scratch.mnt, "--log", scratch.log)
    assert "format" in line, line
    assert not is_mounted(scratch.mnt)
    assert snapshot(scratch.root) == before


def status(volume):
    return json.loads(sluice("status", volume.meta_url))


def test_format_existing_volume_needs_force(make_volume):
    volume = make_volume(mount=False)
    first = status(volume)["setting"]
    line = sluice_error("format", volume.meta_url, volume.name, "--bucket", volume.bucket, "--capacity", "1G")
    assert "already formatted" in line and "--force" in line, line
    assert status(volume)["setting"] == first
    # --force updates the settings of the same volume.
    volume.format("--capacity", "1G", "--force")
    updated = status(volume)["setting"]
    assert updated["uuid"] == first["uuid"]
    assert updated["capacity"] == 1 << 30
    assert {k: v for k, v in updated.items() if k != "capacity"} == {k: v for k, v in first.items() if k != "capacity"}
    volume.mount()
    st = os.statvfs(volume.mnt)
    assert st.f_blocks * st.f_frsize == 1 << 30, "df does not show the capacity set with --force"


def test_mount_point_missing(make_volume):
    volume = make_volume(mount=False)
    missing = os.path.join(volume.root, "no-such-dir")
    line = sluice_error("mount", "-d", volume.meta_url, missing, "--log", volume.log)
    assert missing in line and "does not exist" in line, line
    assert not os.path.exists(missing)
    assert status(volume)["sessions"] == []
    not_dir = os.path.join(volume.root, "a-file")
    open(not_dir, "w").close()
    line = sluice_error("mount", "-d", volume.meta_url, not_dir, "--log", volume.log)
    assert "not a directory" in line, line
    assert status(volume)["sessions"] == []


def test_mount_point_already_mounted(volume):
    with open(volume.path("file"), "w") as f:
        f.write("still here")
    pid = volume.pid()
    line = sluice_error("mount", "-d", volume.meta_url, volume.mnt, "--log", volume.log)
    assert "already mounted" in line, line
    # The first mount is untouched and still serves the volume; no second session.
    assert volume.pid() == pid
    with open(volume.path("file")) as f:
        assert f.read() == "still here"
    assert [s["processID"] for s in status(volume)["sessions"]] == [pid]


def test_bucket_not_writable(scratch):
    regular = os.path.join(scratch.root, "regular-file")
    with open(regular, "w") as f:
        f.write("x")
    bucket = os.path.join(regular, "objects")
    before = snapshot(scratch.root)
    line = sluice_error("format", scratch.meta_url, "v", "--bucket", bucket)
    assert bucket in line and "not writable" in line, line
    assert not os.path.exists(scratch.db), "a failed format created the database"
    assert snapshot(scratch.root) == before


def test_umount_not_mounted(scratch):
    line = sluice_error("umount", scratch.mnt)
    assert "not mounted" in line, line
    missing = os.path.join(scratch.root, "nothing-here")
    line = sluice_error("umount", missing)
    assert "not mounted" in line, line
    assert os.path.isdir(scratch.mnt)


def test_info_outside_sluice(scratch, volume):
    line = sluice_error("info", scratch.root)
    assert "not on a mounted Sluice volume" in line, line
    line = sluice_error("info", volume.path("missing"))
    assert "No such file" in line, line


def test_invalid_arguments(scratch):
    for args, word in ((["format", scratch.meta_url, "bad name!", "--bucket", scratch.bucket], "name"),
                       (["format", scratch.meta_url, "v", "--bucket", scratch.bucket, "--block-size", "lots"], "block size")):
        line = sluice_error(*args)
        assert word in line, line
    assert not os.path.exists(scratch.db)
    assert not os.path.exists(scratch.bucket)


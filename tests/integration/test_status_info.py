"""`sluice status` (settings, usage, live sessions) and `sluice info` (files and directories)."""

import json
import os
import socket

from conftest import MiB, VOLUME_NAME, sluice, write_file


def status(volume):
    return json.loads(sluice("status", volume.meta_url))


def info(path):
    """`sluice info` output as {field: value} for its `  name: value` lines."""
    fields = {}
    for line in sluice("info", path).splitlines()[1:]:
        key, sep, value = line.strip().partition(": ")
        if sep and key not in fields:
            fields[key] = value
    return fields


def test_status_shows_settings_and_live_session(make_volume):
    volume = make_volume(format_args=("--block-size", "1M", "--capacity", "2G", "--inodes", "5000"), mount=False)
    s = status(volume)
    assert s["sessions"] == []
    setting = s["setting"]
    assert setting["name"] == VOLUME_NAME
    assert setting["storage"] == "file"
    assert setting["bucket"] == volume.bucket
    assert setting["blockSize"] == MiB
    assert setting["capacity"] == 2 << 30
    assert setting["inodes"] == 5000
    assert len(setting["uuid"]) == 36

    volume.mount()
    pid = volume.pid()
    s = status(volume)
    assert len(s["sessions"]) == 1
    session = s["sessions"][0]
    assert session["mountPoint"] == volume.mnt
    assert session["processID"] == pid
    assert session["hostName"] == socket.gethostname()
    assert s["setting"] == setting

    used = s["usage"]
    write_file(volume.path("three-mib"), os.urandom(3 * MiB))
    used_after = status(volume)["usage"]
    assert used_after["usedBytes"] >= used["usedBytes"] + 3 * MiB
    assert used_after["usedInodes"] == used["usedInodes"] + 1

    volume.umount()
    assert status(volume)["sessions"] == []
    # A second mount is a new session with the new process.
    volume.mount()
    sessions = status(volume)["sessions"]
    assert [x["processID"] for x in sessions] == [volume.pid()]
    assert sessions[0]["id"] != session["id"]


def test_info_on_directory_counts_tree(volume):
    os.makedirs(volume.path("top", "a", "b"))
    os.mkdir(volume.path("top", "c"))
    sizes = {("top", "f1"): 10, ("top", "a", "f2"): MiB, ("top", "a", "b", "f3"): 0, ("top", "c", "f4"): 5000}
    for parts, size in sizes.items():
        write_file(volume.path(*parts), os.urandom(size))
    os.symlink("f1", volume.path("top", "link"))
    fields = info(volume.path("top"))
    assert fields["inode"] == str(os.stat(volume.path("top")).st_ino)
    assert fields["type"] == "directory"
    assert fields["directories"] == "3"
    assert fields["files"] == "5"  # four regular files and the symlink
    assert fields["size"].split()[0] == str(sum(sizes.values()) + len("f1"))
    # The root counts everything too.
    root = info(volume.mnt)
    assert root["directories"] == "4"
    assert root["files"] == "5"


def test_info_on_file(volume):
    path = volume.path("seventy")
    with open(path, "wb") as f:
        for _ in range(70):
            f.write(os.urandom(MiB))
    fields = info(path)
    st = os.stat(path)
    assert fields["inode"] == str(st.st_ino)
    assert fields["type"] == "regular"
    assert fields["size"].split()[0] == str(70 * MiB)
    assert fields["chunks"] == "2"
    assert "nlink: 1" in fields["mode"]
    out = sluice("info", path)
    assert "chunk 0:" in out and "chunk 1:" in out
    # A hard link and a symlink.
    os.link(path, volume.path("again"))
    assert "nlink: 2" in info(volume.path("again"))["mode"]
    os.symlink("seventy", volume.path("sym"))
    sym = info(volume.path("sym"))
    assert sym["type"] == "symlink"
    assert sym["size"].split()[0] == str(len("seventy"))
    assert "chunks" not in sym

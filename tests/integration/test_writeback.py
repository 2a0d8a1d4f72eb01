"""Write-back (`--writeback`): close returns once blocks are staged on the local cache disk;
uploads happen in the background, and resume after the client dies."""

import os
import random
import signal
import subprocess
import time

from conftest import MiB, OBJECT_KEY, pid_alive, read_file, sluice_error, write_file

DEADLINE = 60  # seconds any awaited background effect may take


def wait_for(condition, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    assert condition(), f"timed out waiting for {what}"


def staged_objects(cache_dir):
    """Object keys staged under any volume's staging directory of `cache_dir`, with sizes."""
    out = {}
    if not os.path.isdir(cache_dir):
        return out
    for uuid in os.listdir(cache_dir):
        staging = os.path.join(cache_dir, uuid, "staging")
        for dirpath, _, files in os.walk(staging):
            for f in files:
                if f.startswith(".sluice-staging."):
                    continue
                full = os.path.join(dirpath, f)
                out[os.path.relpath(full, staging)] = os.path.getsize(full)
    return out


def block_objects(volume):
    return {k: v for k, v in volume.objects().items() if OBJECT_KEY.match(k)}


def write_files(volume):
    rng = random.Random(6)
    contents = {
        "small": rng.randbytes(1000),
        "empty": b"",
        "one-block": rng.randbytes(4 * MiB),
        "bigger-than-a-block": rng.randbytes(9 * MiB + 7),
        os.path.join("dir", "nested"): rng.randbytes(70_000),
    }
    os.mkdir(volume.path("dir"))
    for name, data in contents.items():
        write_file(volume.path(name), data)
    return contents


def check_files(volume, contents):
    for name, data in contents.items():
        assert read_file(volume.path(name)) == data, f"{name} differs"


def test_staged_blocks_survive_a_killed_client(make_volume):
    v = make_volume(mount=False)
    cache = os.path.join(v.root, "cache")
    v.mount("--cache-dir", cache, "--writeback", "--upload-delay", "1h")
    contents = write_files(v)

    # Every close returned, yet no block is in the bucket: they are staged on the cache disk.
    staged = staged_objects(cache)
    assert block_objects(v) == {}, "nothing is uploaded during the upload delay"
    assert all(OBJECT_KEY.match(k) for k in staged), staged
    # 1 + 1 + 3 + 1 blocks: the 9 MiB file is three.
    assert len(staged) == 6, staged
    check_files(v, contents)  # read back from the staging files

    # A crash: the client dies with everything still staged.
    pid = v.pid()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), "the killed client to exit")
    if subprocess.run(["fusermount3", "-u", "-z", v.mnt], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", v.mnt], capture_output=True, check=True)
    wait_for(lambda: not v.mounted, "the dead mount to go")
    assert staged_objects(cache) == staged, "staged blocks outlive the client"
    assert block_objects(v) == {}

    # The next mount (no delay) reads them from staging at once and uploads them.
    v.mount("--cache-dir", cache, "--writeback")
    check_files(v, contents)
    wait_for(lambda: staged_objects(cache) == {}, "the staging directory to empty")
    uploaded = block_objects(v)
    assert set(uploaded) == set(staged), "every staged block reached the bucket"
    assert uploaded == staged, "uploaded objects are the staged bytes"
    v.umount()

    # And without write-back or a disk cache: the data is all in the bucket now.
    v.mount("--cache-dir", os.path.join(v.root, "other-cache"), "--cache-size", "0")
    check_files(v, contents)


def test_umount_uploads_what_is_staged(make_volume):
    v = make_volume(mount=False)
    cache = os.path.join(v.root, "cache")
    v.mount("--cache-dir", cache, "--writeback", "--upload-delay", "1h", "--max-uploads", "2")
    contents = write_files(v)
    assert block_objects(v) == {}
    staged = staged_objects(cache)
    assert len(staged) == 6
    v.umount()  # returns once the client exited, after its uploads
    assert staged_objects(cache) == {}
    assert block_objects(v) == staged
    v.mount("--cache-dir", cache)
    check_files(v, contents)


def test_deleted_before_upload_never_reaches_the_bucket(make_volume):
    v = make_volume(mount=False)
    cache = os.path.join(v.root, "cache")
    v.mount("--cache-dir", cache, "--writeback", "--upload-delay", "1h")
    write_file(v.path("keep"), b"k" * 5000)
    write_file(v.path("temporary"), b"t" * 6000)
    assert len(staged_objects(cache)) == 2
    os.unlink(v.path("temporary"))
    # The client deletes the blocks of unlinked files in the background.
    wait_for(lambda: len(staged_objects(cache)) == 1, "the unlinked file's block to leave staging")
    v.umount()
    blocks = block_objects(v)
    assert len(blocks) == 1, blocks
    v.mount("--cache-dir", cache)
    assert read_file(v.path("keep")) == b"k" * 5000


def test_upload_options_are_checked(make_volume):
    v = make_volume(mount=False)
    line = sluice_error("mount", v.meta_url, v.mnt, "--max-uploads", "0")
    assert "--max-uploads" in line and "at least 1" in line, line
    line = sluice_error("mount", v.meta_url, v.mnt, "--writeback", "--upload-delay", "soon")
    assert "--upload-delay" in line and "soon" in line, line
    line = sluice_error("mount", v.meta_url, v.mnt, "--upload-delay", "1h")
    assert "--writeback" in line, line
    assert not v.mounted


def test_full_staging_disk_falls_back_to_direct_uploads(make_volume):
    v = make_volume(mount=False)
    cache = os.path.join(v.root, "small-cache")
    os.mkdir(cache)
    # A 3 MiB file system: a 4 MiB block cannot be staged there (ENOSPC), a small one can.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", cache], check=True)
    try:
        v.mount("--cache-dir", cache, "--writeback", "--upload-delay", "1h")
        rng = random.Random(8)
        small = rng.randbytes(1000)
        big = rng.randbytes(8 * MiB)
        write_file(v.path("small"), small)
        write_file(v.path("big"), big)  # close succeeds: its blocks went straight to the bucket
        assert len(block_objects(v)) == 2, "the blocks that did not fit were uploaded directly"
        assert len(staged_objects(cache)) == 1, "the small block is staged"
        assert read_file(v.path("big")) == big
        v.umount()
        assert staged_objects(cache) == {}
        assert len(block_objects(v)) == 3
        v.mount("--cache-dir", os.path.join(v.root, "plain-cache"))
        assert read_file(v.path("small")) == small
        assert read_file(v.path("big")) == big
        v.umount()
    finally:
        if subprocess.run(["umount", cache], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", cache], capture_output=True)

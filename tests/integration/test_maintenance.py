"""gc finds objects no slice references; fsck finds referenced objects that are missing or
damaged, and names the files that need them."""

import os

from conftest import MiB, VOLUME_NAME, run_sluice, sluice, write_file


def planted_key(bucket):
    """A block key no slice in the volume uses (a leak after a crash between upload and commit)."""
    sid = 987_654_321
    return os.path.join(bucket, VOLUME_NAME, "chunks", str(sid // 1_000_000), str(sid // 1_000), f"{sid}_0_5")


def test_gc_reports_and_deletes_only_leaked_objects(volume):
    write_file(volume.path("keep"), os.urandom(5 * MiB))
    volume.umount()
    before = set(volume.objects())
    leak = planted_key(volume.bucket)
    os.makedirs(os.path.dirname(leak), exist_ok=True)
    with open(leak, "wb") as f:
        f.write(b"junk!")
    # Young objects may belong to a write in progress: left alone by default.
    assert "0 leaked objects" in sluice("gc", volume.meta_url)
    report = sluice("gc", volume.meta_url, "--min-age", "0")
    assert "1 leaked objects" in report and os.path.relpath(leak, volume.bucket) in report
    assert os.path.exists(leak), "without --delete gc only reports"
    sluice("gc", volume.meta_url, "--min-age", "0", "--delete")
    assert not os.path.exists(leak)
    assert set(volume.objects()) == before, "objects of live files are untouched"
    volume.mount()
    with open(volume.path("keep"), "rb") as f:
        assert len(f.read()) == 5 * MiB


def test_fsck_names_files_with_missing_or_damaged_objects(volume):
    os.mkdir(volume.path("d"))
    write_file(volume.path("d", "victim"), os.urandom(MiB))
    write_file(volume.path("fine"), os.urandom(MiB))
    keys = [line.strip() for line in sluice("info", volume.path("d", "victim")).splitlines() if "/chunks/" in line]
    volume.umount()
    assert run_sluice("fsck", volume.meta_url).returncode == 0

    # A damaged byte: only --verify reads the data and sees it.
    path = os.path.join(volume.bucket, keys[0])
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 100)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert run_sluice("fsck", volume.meta_url).returncode == 0
    damaged = run_sluice("fsck", volume.meta_url, "--verify")
    assert damaged.returncode != 0 and "/d/victim" in damaged.stdout and "/fine" not in damaged.stdout

    # A missing object: found without reading data.
    os.unlink(path)
    missing = run_sluice("fsck", volume.meta_url)
    assert missing.returncode != 0 and "/d/victim" in missing.stdout and "missing" in missing.stdout

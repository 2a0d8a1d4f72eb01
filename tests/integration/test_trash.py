"""The trash: with --trash-days, deleted files move to /.trash/<hour>/ and can be restored."""

import errno
import glob
import os
import random

import pytest

from conftest import MiB, sluice, write_file


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_trash_keeps_and_restores(make_volume):
    v = make_volume(format_args=("--trash-days", "1"))
    data = random.Random(7).randbytes(3 * MiB + 123)
    write_file(v.path("doc.bin"), data)
    os.mkdir(v.path("dir"))
    write_file(v.path("dir", "old"), b"old version\n")
    write_file(v.path("dir", "new"), b"new version\n")

    os.remove(v.path("doc.bin"))
    assert not os.path.exists(v.path("doc.bin"))
    found = glob.glob(v.path(".trash", "*", "*-doc.bin"))
    assert len(found) == 1, os.listdir(v.path(".trash"))
    trashed = found[0]
    hour = os.path.basename(os.path.dirname(trashed))
    assert len(hour) == 13 and hour[4] == "-" and hour[10] == "-", hour
    assert read(trashed) == data, "the trashed file keeps its content"
    assert os.stat(trashed).st_nlink == 1

    # Rename over a file: the replaced one goes to the trash too.
    os.rename(v.path("dir", "new"), v.path("dir", "old"))
    replaced = glob.glob(v.path(".trash", "*", "*-old"))
    assert len(replaced) == 1
    assert read(replaced[0]) == b"old version\n"

    # Nothing is created in the trash, not even by root.
    with pytest.raises(OSError) as e:
        write_file(os.path.join(os.path.dirname(trashed), "intruder"), b"x")
    assert e.value.errno == errno.EPERM

    # Restore by renaming out.
    os.rename(trashed, v.path("restored.bin"))
    assert read(v.path("restored.bin")) == data
    assert not os.path.exists(trashed)

    # Not expired: gc --delete leaves the trash alone, and it all survives a remount.
    v.umount()
    out = sluice("gc", v.meta_url, "--delete")
    assert "trash: removed 0 files" in out
    v.mount()
    assert read(v.path("restored.bin")) == data
    assert read(replaced[0]) == b"old version\n"


def test_open_unlinked_file_goes_to_trash_at_close(make_volume):
    v = make_volume(format_args=("--trash-days", "1"))
    write_file(v.path("held"), b"still here\n")
    with open(v.path("held"), "rb") as f:
        os.remove(v.path("held"))
        assert os.fstat(f.fileno()).st_nlink == 0, "open-unlinked: nlink 0 while open"
        assert not glob.glob(v.path(".trash", "*", "*-held"))
        assert f.read() == b"still here\n"
    # close(2) returns before the kernel sends the release (the last close) to the client; an
    # unmount waits for every release, so after a remount the move has happened.
    v.remount()
    found = glob.glob(v.path(".trash", "*", "*-held"))
    assert len(found) == 1, "moved to the trash at the last close"
    assert read(found[0]) == b"still here\n"


def test_no_trash_without_trash_days(volume):
    write_file(volume.path("f"), b"x")
    os.remove(volume.path("f"))
    assert not os.path.exists(volume.path(".trash"))

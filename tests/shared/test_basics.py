"""FUSE basics on every engine: format, mount, an everyday workload, unmount, mount again and
find the very same tree."""

from conftest import everyday_workload, status, tree_digest


def test_everyday_workload_survives_remount(make_volume, engine_url):
    vol = make_volume(engine_url)
    a = vol.client()
    everyday_workload(a.mnt)
    before = tree_digest(a.mnt)
    assert {"src/big", "docs/big-symlink", "docs/deep/leaf.txt", "docs/small-link"} <= set(before)
    assert "src/empty" not in before
    a.umount()
    assert status(engine_url)["sessions"] == []
    b = vol.client()
    assert tree_digest(b.mnt) == before
    b.umount()

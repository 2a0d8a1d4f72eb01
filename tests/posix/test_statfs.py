"""statfs(2)/statvfs(3): sane numbers that follow usage."""
import os

from posix_helpers import write_file


def test_statvfs_fields(volume, d):
    st = os.statvfs(volume.mnt)
    assert st.f_bsize > 0 and st.f_frsize > 0
    assert st.f_blocks >= st.f_bfree >= st.f_bavail >= 0
    assert st.f_files >= st.f_ffree > 0
    assert st.f_namemax == 255
    fd = os.open(d, os.O_RDONLY)
    try:
        assert os.fstatvfs(fd).f_namemax == 255
    finally:
        os.close(fd)


def test_statvfs_follows_usage(volume, d):
    # Without a capacity the volume reports a constant amount free above what is used (like
    # an endless disk), so usage shows as blocks - free, the way df computes it.
    def used(st):
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    before = os.statvfs(volume.mnt)
    p = os.path.join(d, "big")
    write_file(p, os.urandom(16 << 20))
    after = os.statvfs(volume.mnt)
    assert used(after) - used(before) >= 16 << 20
    assert after.f_files - after.f_ffree > before.f_files - before.f_ffree
    os.unlink(p)
    assert used(os.statvfs(volume.mnt)) == used(before)

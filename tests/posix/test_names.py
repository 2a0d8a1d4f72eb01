"""File names: the 255-byte limit for every operation that takes one, and any byte but '/'
and NUL."""
import errno
import os

from posix_helpers import err, read_file, write_file

MAX = "n" * 255
TOO_LONG = "n" * 256


def test_255_byte_names_work_everywhere(d):
    p = os.path.join(d, MAX)
    write_file(p, b"x")
    assert os.listdir(d) == [MAX]
    assert read_file(p) == b"x"
    os.rename(p, os.path.join(d, "m" * 255))
    os.link(os.path.join(d, "m" * 255), os.path.join(d, "l" * 255))
    os.symlink("m" * 255, os.path.join(d, "s" * 255))
    assert read_file(os.path.join(d, "s" * 255)) == b"x"
    os.mkdir(os.path.join(d, "d" * 255))
    os.mkfifo(os.path.join(d, "f" * 255))
    # Multi-byte characters count in bytes: 85 three-byte characters are 255 bytes.
    utf = "\u20ac" * 85
    write_file(os.path.join(d, utf))
    assert err(write_file, os.path.join(d, utf + "e")) == errno.ENAMETOOLONG


def test_256_byte_names_are_enametoolong(d):
    write_file(os.path.join(d, "f"))
    os.mkdir(os.path.join(d, "dir"))
    t = os.path.join(d, TOO_LONG)
    assert err(os.open, t, os.O_CREAT | os.O_WRONLY, 0o644) == errno.ENAMETOOLONG
    assert err(os.stat, t) == errno.ENAMETOOLONG
    assert err(os.mkdir, t) == errno.ENAMETOOLONG
    assert err(os.mkfifo, t) == errno.ENAMETOOLONG
    assert err(os.symlink, "f", t) == errno.ENAMETOOLONG
    assert err(os.link, os.path.join(d, "f"), t) == errno.ENAMETOOLONG
    assert err(os.rename, os.path.join(d, "f"), t) == errno.ENAMETOOLONG
    assert err(os.rename, t, os.path.join(d, "g")) == errno.ENAMETOOLONG
    assert err(os.unlink, t) == errno.ENAMETOOLONG
    assert err(os.rmdir, t) == errno.ENAMETOOLONG
    assert err(os.chmod, t, 0o644) == errno.ENAMETOOLONG
    assert sorted(os.listdir(d)) == ["dir", "f"]


def test_unusual_bytes_in_names(d):
    names = [b"space name", b"new\nline", b"tab\tx", b"\xff\xfe\x80 not utf8", b"-dash", b"...",
             b"\x01\x1f", b"*?[]", "caf\u00e9".encode()]
    bd = os.fsencode(d)
    for n in names:
        write_file(os.path.join(bd, n), n)
    assert sorted(os.listdir(bd)) == sorted(names)
    for n in names:
        assert read_file(os.path.join(bd, n)) == n
    # Names differing only in case are different files.
    write_file(os.path.join(d, "Case"), b"1")
    write_file(os.path.join(d, "case"), b"2")
    assert read_file(os.path.join(d, "Case")) == b"1"


def test_path_longer_than_limit(d):
    # PATH_MAX (4096) limits a whole path through the kernel, not the file system.
    deep = d
    rel = []
    while len("/".join(rel)) < 4200:
        rel.append("p" * 200)
    cur = os.open(d, os.O_RDONLY)
    for comp in rel:
        os.mkdir(comp, dir_fd=cur)
        nxt = os.open(comp, os.O_RDONLY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    write_file("/proc/self/fd/%d/leaf" % cur, b"deep")
    os.close(cur)
    assert err(os.stat, os.path.join(deep, *rel, "leaf")) == errno.ENAMETOOLONG

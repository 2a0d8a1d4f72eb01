"""Dump/load round trip through every engine: sqlite -> redis -> postgres -> sqlite. Every
dump is byte-identical, and the final SQLite volume, on the original bucket, shows the tree
that was built."""

import os

from conftest import everyday_workload, sluice, tree_digest, write_file


def test_dump_load_through_all_engines(make_volume, sqlite, redis, postgres, tmp_path):
    original = make_volume(sqlite)
    a = original.client()
    everyday_workload(a.mnt)
    os.setxattr(a.path("docs/deep/leaf.txt"), "user.colour", b"blue")
    write_file(a.path("n\u00e4me with spaces"), b"unicode name\n")
    os.mkfifo(a.path("fifo"))
    tree = tree_digest(a.mnt)
    a.umount()

    final_sqlite = f"sqlite3://{tmp_path}/final.db"
    dumps = []
    source = sqlite
    for target in [redis, postgres, final_sqlite]:
        dump = tmp_path / f"dump{len(dumps)}.json"
        sluice("dump", source, dump)
        dumps.append(dump.read_bytes())
        sluice("load", target, dump)
        source = target
    last = tmp_path / "dump-final.json"
    sluice("dump", source, last)
    dumps.append(last.read_bytes())
    assert len(dumps[0]) > 1000
    for i, d in enumerate(dumps[1:], 1):
        assert d == dumps[0], f"dump {i} differs from the first"

    # Same bucket (the settings carry it): the loaded volume reads the original objects.
    final = make_volume(final_sqlite, formatted=False, bucket=original.bucket)
    b = final.client()
    assert tree_digest(b.mnt) == tree
    assert os.getxattr(b.path("docs/deep/leaf.txt"), "user.colour") == b"blue"
    b.umount()

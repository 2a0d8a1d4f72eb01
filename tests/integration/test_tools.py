"""Everyday tools on a mounted volume: cp, diff, tar, git, SQLite, df."""

import os
import random
import sqlite3
import subprocess

from conftest import MiB, tree_digest, write_file

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sh(*args, cwd=None, check=True):
    p = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, f"{' '.join(args)} exited {p.returncode}:\n{p.stderr}{p.stdout}"
    return p


def make_source_tree(dest):
    """A copy of the repository's Sources plus generated binary files of awkward sizes, an
    empty file, an empty directory, a symlink and a file with unusual permissions."""
    sh("cp", "-a", os.path.join(REPO_ROOT, "Sources"), os.path.join(dest, "Sources"))
    rng = random.Random(7)
    bin_dir = os.path.join(dest, "bin")
    os.makedirs(os.path.join(bin_dir, "nested", "deeper"))
    os.mkdir(os.path.join(dest, "empty-dir"))
    for i, size in enumerate([0, 1, 4095, 4096, 65537, MiB + 3, 4 * MiB + 1, 9 * MiB]):
        write_file(os.path.join(bin_dir, f"blob{i}.bin"), rng.randbytes(size))
    write_file(os.path.join(bin_dir, "nested", "deeper", "x.dat"), rng.randbytes(12345))
    os.symlink("nested/deeper/x.dat", os.path.join(bin_dir, "link-to-x"))
    os.chmod(os.path.join(bin_dir, "blob1.bin"), 0o604)


def test_cp_a_and_diff_r(volume, tmp_path):
    src = tmp_path / "tree"
    src.mkdir()
    make_source_tree(str(src))
    dest = volume.path("copy")
    sh("cp", "-a", str(src), dest)
    sh("diff", "-r", "--no-dereference", str(src), dest)
    # cp -a keeps modes, owners, link targets and mtimes.
    assert tree_digest(dest) == tree_digest(str(src))
    # Copy back out of the mount too: reading through FUSE gives the same bytes.
    back = tmp_path / "back"
    sh("cp", "-a", dest, str(back))
    sh("diff", "-r", "--no-dereference", str(src), str(back))


def test_tar_round_trip(volume, tmp_path):
    src = volume.path("src")
    os.mkdir(src)
    make_source_tree(src)
    archive = volume.path("tree.tar")
    sh("tar", "--format=posix", "-cf", archive, "-C", src, ".")  # pax keeps ns mtimes
    os.mkdir(volume.path("extracted"))
    sh("tar", "-xpf", archive, "-C", volume.path("extracted"))
    sh("diff", "-r", "--no-dereference", src, volume.path("extracted"))
    assert tree_digest(volume.path("extracted")) == tree_digest(src)
    # The archive itself is consistent: listing it off the mount after a remount works, and
    # an extraction to local disk matches.
    volume.remount()
    local = tmp_path / "local"
    local.mkdir()
    sh("tar", "-xpf", archive, "-C", str(local))
    sh("diff", "-r", "--no-dereference", src, str(local))


def git(repo, *args):
    return sh("git", "-c", "user.name=Sluice Test", "-c", "user.email=test@sluice.invalid",
              "-c", "init.defaultBranch=main", "-c", "safe.directory=*", *args, cwd=repo).stdout


def test_git_workflow(volume):
    repo = volume.path("repo")
    os.mkdir(repo)
    git(repo, "init", "-q")
    for i in range(30):
        os.makedirs(os.path.join(repo, f"dir{i % 4}"), exist_ok=True)
        write_file(os.path.join(repo, f"dir{i % 4}", f"file{i}.txt"), f"line {i}\n".encode() * (i + 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    write_file(os.path.join(repo, "dir0", "file0.txt"), b"changed\n")
    os.remove(os.path.join(repo, "dir1", "file1.txt"))
    os.rename(os.path.join(repo, "dir2", "file2.txt"), os.path.join(repo, "dir3", "moved.txt"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "--format=%s").split() == ["second", "first"]
    sh("git", "-c", "safe.directory=*", "fsck", "--strict", cwd=repo)
    volume.remount()
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "--format=%s").split() == ["second", "first"]
    assert git(repo, "show", "HEAD:dir0/file0.txt") == "changed\n"
    assert git(repo, "show", "HEAD~1:dir1/file1.txt") == "line 1\n" * 2
    sh("git", "-c", "safe.directory=*", "fsck", "--strict", cwd=repo)


def test_sqlite_database_on_mount(volume):
    path = volume.path("app.db")
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL)")
    for batch in range(10):
        with con:
            con.executemany("INSERT INTO t (id, name, value) VALUES (?, ?, ?)",
                            [(batch * 1000 + i, f"name-{batch}-{i}", i * 0.5) for i in range(1000)])
    con.execute("CREATE INDEX t_name ON t(name)")
    con.commit()
    assert con.execute("SELECT count(*), sum(id) FROM t").fetchone() == (10000, sum(range(10000)))
    assert con.execute("SELECT id FROM t WHERE name = 'name-7-123'").fetchone() == (7123,)
    with con:
        con.execute("DELETE FROM t WHERE id % 2 = 1")
        con.execute("UPDATE t SET value = -1 WHERE id < 100")
    con.close()

    volume.remount()

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT count(*), sum(id) FROM t").fetchone() == (5000, sum(range(0, 10000, 2)))
    assert con.execute("SELECT count(*) FROM t WHERE value = -1").fetchone() == (50,)
    assert con.execute("SELECT name FROM t WHERE id = 9998").fetchone() == ("name-9-998",)
    con.close()


def test_df_reports_the_volume(volume):
    out = sh("df", "-P", volume.mnt).stdout.splitlines()
    assert len(out) == 2
    fields = out[1].split()
    assert fields[0] == f"sluice:{volume.name}"
    assert fields[-1] == volume.mnt
    used_before = int(fields[2])
    write_file(volume.path("ten-mib"), os.urandom(10 * MiB))
    st = os.statvfs(volume.mnt)
    assert st.f_blocks > 0 and st.f_bavail > 0
    used_after = int(sh("df", "-P", volume.mnt).stdout.splitlines()[1].split()[2])
    # df counts 1 KiB blocks: the 10 MiB file shows in the usage.
    assert used_after - used_before >= 10 * 1024
    inodes = sh("df", "-P", "-i", volume.mnt).stdout.splitlines()[1].split()
    assert int(inodes[2]) >= 2  # root and the file

"""stress-ng's file system stressors, run on the mount with verification where they have it;
each group must exit cleanly (status 0: no stressor failed, none skipped)."""
import shutil
import subprocess

import pytest

GROUPS = {
    "data": ["--hdd", "2", "--hdd-bytes", "32M", "--seek", "1", "--seek-size", "16M", "--mmap", "1",
             "--mmap-bytes", "16M", "--mmap-file", "--io", "1", "--fallocate", "1", "--fallocate-bytes", "16M"],
    "names": ["--dir", "1", "--dentry", "1", "--link", "1", "--symlink", "1", "--rename", "1", "--filename", "1"],
    "attributes": ["--chmod", "1", "--chown", "1", "--utime", "1", "--xattr", "1"],
    "locks": ["--flock", "2", "--lockf", "2"],
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_stress_ng(volume, d, group):
    exe = shutil.which("stress-ng")
    assert exe, "stress-ng is not installed (scripts/install-deps installs it)"
    cmd = [exe, *GROUPS[group], "--temp-path", d, "--timeout", "10s", "--verify", "--metrics-brief"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"

"""`sluice objbench`: a quick run against a directory reports every item and leaves nothing."""

import os
import re

from conftest import run_sluice, sluice, sluice_error

ITEMS = ["Put big object", "Get big object", "Put small objects", "Get small objects", "Head objects",
         "List objects", "Delete objects"]


def files_under(root):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]


def test_objbench_reports_every_item_and_cleans_up(tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (bucket / "keep-me").write_bytes(b"not the benchmark's")
    out = sluice("objbench", "--storage", "file", "--bucket", str(bucket), "--block-size", "1M",
                 "--big-object-size", "8", "--small-object-size", "16", "--small-objects", "30", "-p", "3")
    for item in ITEMS:
        row = [line for line in out.splitlines() if line.startswith(f"| {item} ")]
        assert len(row) == 1, f"no row for {item}:\n{out}"
        assert re.search(r"\d+\.\d+ (MiB/s|ops/s) \| +\d+\.\d+ / \d+\.\d+ ms/op \|$", row[0]), row[0]
    assert "objects left behind: 0" in out
    assert files_under(str(bucket)) == [str(bucket / "keep-me")], "objbench left objects or directories behind"
    assert os.listdir(bucket) == ["keep-me"]


def test_objbench_small_only_and_errors(tmp_path):
    bucket = tmp_path / "b"
    out = sluice("objbench", "--bucket", str(bucket), "--big-object-size", "0", "--small-objects", "5", "-p", "8")
    assert "| Put small objects " in out and "Put big object" not in out
    assert files_under(str(bucket)) == []
    assert "unsupported storage" in sluice_error("objbench", "--storage", "ftp", "--bucket", str(bucket))
    assert "threads" in sluice_error("objbench", "--bucket", str(bucket), "-p", "0")
    assert run_sluice("objbench").returncode != 0, "--bucket is required"

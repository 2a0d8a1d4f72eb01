"""Encryption at rest: `sluice format --encrypt-rsa-key`, mounts with and without the right
private key, what the bucket holds, and tampering."""

import os
import subprocess

import pytest

from conftest import MiB, read_file, run_sluice, sluice, sluice_error, write_file

PLAINTEXT_MARKER = b"sluice-encryption-marker: this sentence must never reach the bucket. "


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"openssl {' '.join(args)} exited {p.returncode}:\n{p.stderr}"


@pytest.fixture
def keys(tmp_path):
    """A PKCS#8 key (genpkey), a PKCS#1 key (genrsa -traditional), its public half, and a
    passphrase-protected key."""
    k = {
        "main": str(tmp_path / "main.pem"),
        "other": str(tmp_path / "other.pem"),
        "public": str(tmp_path / "main.pub.pem"),
        "locked": str(tmp_path / "locked.pem"),
    }
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k["main"])
    openssl("genrsa", "-traditional", "-out", k["other"], "2048")
    openssl("pkey", "-in", k["main"], "-pubout", "-out", k["public"])
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256",
            "-pass", "pass:secret", "-out", k["locked"])
    return k


def mount_error(vol, *extra, env=None):
    """Mounts expecting failure: non-zero exit, one line on stderr, nothing mounted."""
    p = subprocess.run([os.environ["SLUICE_BIN"], "mount", "-d", vol.meta_url, vol.mnt, "--log", vol.log,
                        *vol.cache_args(*extra), *extra],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                       env={**os.environ, **(env or {})})
    assert p.returncode != 0, f"mount succeeded:\n{p.stdout}"
    lines = p.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {p.stderr!r}"
    assert not vol.mounted
    return lines[0]


def write_payload(vol):
    files = {
        "text.txt": PLAINTEXT_MARKER * 20000,                 # ~1.4 MiB of repeated plaintext
        "big.bin": os.urandom(9 * MiB + 123),                 # three blocks
        "small.txt": b"hello, encrypted world\n",
        "empty": b"",
    }
    for name, data in files.items():
        write_file(vol.path(name), data)
    return files


def bucket_bytes(vol):
    out = b""
    for rel in vol.objects():
        with open(os.path.join(vol.bucket, rel), "rb") as f:
            out += f.read()
    return out


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_encrypted_volume_round_trip_and_bucket_holds_no_plaintext(make_volume, keys, compress):
    vol = make_volume(format_args=("--encrypt-rsa-key", keys["main"], "--compress", compress), mount=False)
    vol.mount_args = ("--encrypt-rsa-key", keys["main"])
    vol.mount()
    files = write_payload(vol)
    vol.remount()
    for name, data in files.items():
        assert read_file(vol.path(name)) == data, name
    vol.umount()
    stored = bucket_bytes(vol)
    assert len(vol.objects()) >= 5
    assert PLAINTEXT_MARKER[:24] not in stored
    assert b"hello, encrypted world" not in stored
    assert files["big.bin"][1000:1032] not in stored
    # The local disk cache holds blocks as stored: encrypted too.
    cached = b""
    for dirpath, _, names in os.walk(vol.cache_dir):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                cached += f.read()
    assert len(cached) > 9 * MiB
    assert PLAINTEXT_MARKER[:24] not in cached
    assert b"hello, encrypted world" not in cached
    assert files["big.bin"][1000:1032] not in cached
    # The key can also come from the environment.
    p = subprocess.run([os.environ["SLUICE_BIN"], "mount", "-d", vol.meta_url, vol.mnt, "--log", vol.log,
                        *vol.cache_args()],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                       env={**os.environ, "SLUICE_RSA_KEY_FILE": keys["main"]})
    assert p.returncode == 0, p.stderr
    vol.pids.append(vol.pid())
    assert read_file(vol.path("small.txt")) == files["small.txt"]


def test_mount_without_or_with_a_wrong_key_fails_clearly(make_volume, keys):
    vol = make_volume(format_args=("--encrypt-rsa-key", keys["public"]), mount=False)
    db = b""
    for suffix in ("", "-wal"):
        if os.path.exists(vol.db + suffix):
            with open(vol.db + suffix, "rb") as f:
                db += f.read()
    assert b"PRIVATE KEY" not in db and b"PUBLIC KEY" in db, "only the public key is stored"
    line = mount_error(vol)
    assert "is encrypted" in line and "--encrypt-rsa-key" in line
    line = mount_error(vol, "--encrypt-rsa-key", keys["other"])
    assert "is not the key of volume" in line
    line = mount_error(vol, env={"SLUICE_RSA_KEY_FILE": keys["other"]})
    assert "is not the key of volume" in line
    line = mount_error(vol, "--encrypt-rsa-key", keys["public"])
    assert "no RSA private key" in line
    line = mount_error(vol, "--encrypt-rsa-key", keys["locked"], env={"SLUICE_RSA_PASSPHRASE": "wrong"})
    assert line.endswith("wrong passphrase for " + keys["locked"] + " (from SLUICE_RSA_PASSPHRASE)"), line
    line = mount_error(vol, "--encrypt-rsa-key", keys["locked"], env={"SLUICE_RSA_PASSPHRASE": ""})
    assert "passphrase-protected" in line and "SLUICE_RSA_PASSPHRASE" in line
    line = mount_error(vol, "--encrypt-rsa-key", os.path.join(vol.root, "missing.pem"))
    assert "cannot read" in line
    # The right key (formatted from the public half) mounts.
    vol.mount_args = ("--encrypt-rsa-key", keys["main"])
    vol.mount()
    write_file(vol.path("f"), b"data")
    vol.remount()
    assert read_file(vol.path("f")) == b"data"


def test_key_for_an_unencrypted_volume_and_bad_format_keys_are_errors(make_volume, keys):
    vol = make_volume(mount=False)
    line = mount_error(vol, "--encrypt-rsa-key", keys["main"])
    assert "is not encrypted" in line
    # Encryption cannot be added to (or, with --force, dropped from) a formatted volume.
    line = sluice_error("format", vol.meta_url, vol.name, "--bucket", vol.bucket, "--force",
                        "--encrypt-rsa-key", keys["main"])
    assert "cannot encrypt" in line
    other = make_volume(mount=False, formatted=False)
    p = subprocess.run([os.environ["SLUICE_BIN"], "format", other.meta_url, other.name, "--bucket", other.bucket,
                        "--encrypt-rsa-key", keys["locked"]], capture_output=True, text=True, timeout=120,
                       env={k: v for k, v in os.environ.items() if k != "SLUICE_RSA_PASSPHRASE"})
    assert p.returncode != 0 and len(p.stderr.splitlines()) == 1, p.stderr
    assert "passphrase-protected" in p.stderr and "SLUICE_RSA_PASSPHRASE" in p.stderr
    enc = make_volume(format_args=("--encrypt-rsa-key", keys["main"]), mount=False)
    line = sluice_error("format", enc.meta_url, enc.name, "--bucket", enc.bucket, "--force", "--trash-days", "1")
    assert "is encrypted" in line
    sluice("format", enc.meta_url, enc.name, "--bucket", enc.bucket, "--force", "--trash-days", "1",
           "--encrypt-rsa-key", keys["main"])


@pytest.mark.parametrize("form", ["pkcs8", "legacy"])
def test_passphrase_protected_key_formats_and_mounts(make_volume, keys, monkeypatch, form, tmp_path):
    """A key kept encrypted on disk (PKCS#8 PBES2 from genpkey -aes256, or OpenSSL's legacy
    Proc-Type form), its passphrase in SLUICE_RSA_PASSPHRASE: format, mount, I/O, remount."""
    key = keys["locked"]
    if form == "legacy":
        key = str(tmp_path / "legacy.pem")
        openssl("rsa", "-in", keys["locked"], "-passin", "pass:secret", "-aes256", "-traditional",
                "-passout", "pass:secret", "-out", key)
        with open(key) as f:
            assert "Proc-Type: 4,ENCRYPTED" in f.read()
    monkeypatch.setenv("SLUICE_RSA_PASSPHRASE", "secret")
    vol = make_volume(format_args=("--encrypt-rsa-key", key), mount=False)
    vol.mount_args = ("--encrypt-rsa-key", key)
    vol.mount()
    files = write_payload(vol)
    vol.remount()
    for name, data in files.items():
        assert read_file(vol.path(name)) == data, name
    vol.umount()
    assert PLAINTEXT_MARKER[:24] not in bucket_bytes(vol)
    # The same volume with the unencrypted form of the key: the same key pair.
    plain = str(tmp_path / "plain.pem")
    openssl("pkey", "-in", key, "-passin", "pass:secret", "-out", plain)
    monkeypatch.delenv("SLUICE_RSA_PASSPHRASE")
    vol.mount_args = ("--encrypt-rsa-key", plain)
    vol.mount()
    assert read_file(vol.path("small.txt")) == files["small.txt"]


def test_tampered_object_reads_as_eio(make_volume, keys):
    vol = make_volume(format_args=("--encrypt-rsa-key", keys["main"]), mount=False)
    # Without the disk cache, whose good copies would (rightly) hide the damage in the bucket.
    vol.mount_args = ("--encrypt-rsa-key", keys["main"], "--cache-size", "0")
    vol.mount()
    write_file(vol.path("victim"), os.urandom(100_000))
    write_file(vol.path("bystander"), os.urandom(100_000))
    before = set(vol.objects())
    vol.umount()
    objects = sorted(k for k in before if k.endswith("_0_100000"))
    assert len(objects) == 2
    victim, bystander = objects  # slices are numbered in write order
    path = os.path.join(vol.bucket, victim)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x01]))
    vol.mount()
    p = subprocess.run(["cat", vol.path("victim")], capture_output=True, timeout=60)
    assert p.returncode != 0 and b"Input/output error" in p.stderr, p.stderr
    assert len(read_file(vol.path("bystander"))) == 100_000
    # A swapped object (another block of the same volume under this key) is EIO too.
    vol.umount()
    with open(os.path.join(vol.bucket, bystander), "rb") as f:
        other = f.read()
    with open(path, "wb") as f:
        f.write(other)
    vol.mount()
    p = subprocess.run(["cat", vol.path("victim")], capture_output=True, timeout=60)
    assert p.returncode != 0 and b"Input/output error" in p.stderr, p.stderr
    # fsck --verify names the damaged file; without the key, --verify is refused.
    vol.umount()
    line = sluice_error("fsck", vol.meta_url, "--verify")
    assert "is encrypted" in line
    p = run_sluice("fsck", vol.meta_url, "--verify", "--encrypt-rsa-key", keys["main"])
    assert p.returncode == 2 and "victim" in p.stdout, p.stdout + p.stderr
    assert run_sluice("fsck", vol.meta_url).returncode == 0, "lengths come from headers, readable without the key"

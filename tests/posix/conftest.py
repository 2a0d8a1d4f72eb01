"""Fixtures of the POSIX conformance suite: one Sluice volume formatted and mounted through
FUSE for the whole session (remountable), a fresh directory per test, and the mount log
attached to every failure."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from posix_helpers import scratch_volume  # noqa: E402


def _binary():
    path = os.environ.get("SLUICE_BIN")
    if not path:
        pytest.exit("SLUICE_BIN is not set: point it at the sluice binary "
                    "(swift build -c release --show-bin-path)/sluice", returncode=2)
    if not os.access(path, os.X_OK):
        pytest.exit(f"SLUICE_BIN={path} is not an executable", returncode=2)
    return path


@pytest.fixture(scope="session")
def volume():
    with scratch_volume(_binary(), "sluice-posix-") as vol:
        yield vol


_counter = [0]


@pytest.fixture
def d(volume, request):
    """A fresh, empty directory on the mount (mode 0755, owned by root)."""
    _counter[0] += 1
    path = os.path.join(volume.mnt, f"t{_counter[0]:04d}-{request.node.name[:60]}".replace("[", "_").replace("]", "_"))
    os.mkdir(path)
    os.chmod(path, 0o755)
    volume.current_test = request.node.nodeid
    return path


@pytest.fixture(autouse=True)
def _umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "volume" in getattr(item, "funcargs", {}):
        vol = item.funcargs["volume"]
        report.sections.append(("sluice mount log (tail)", vol.log_tail()))

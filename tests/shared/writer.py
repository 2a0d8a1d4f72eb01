"""Writes files one after another into a directory until a stop file appears: each file is
written, fsynced and closed; only when all three succeeded is "OK name sha256" appended to the
journal (itself fsynced, on local disk). Failures are journaled as "ERR name errno" and the
writer goes on after a short pause: an engine outage may fail operations, never the writer.

usage: writer.py DIRECTORY JOURNAL STOPFILE"""

import hashlib
import os
import random
import sys
import time


def main():
    directory, journal, stop = sys.argv[1:4]
    rng = random.Random(1234)
    with open(journal, "a") as log:
        def record(line):
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

        i = 0
        while not os.path.exists(stop):
            i += 1
            name = f"w{i:05d}"
            size = rng.choice([0, 1, 4096, 65536 + 3, 300_000, 1 << 20])
            data = rng.randbytes(size)
            try:
                fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as e:
                record(f"ERR {name} {e.errno}")
                time.sleep(0.1)
                continue
            record(f"OK {name} {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()

"""A process that holds files open and takes locks on command, for the cross-client lock tests.

Reads one JSON command per line on stdin and answers one JSON line on stdout:
  {"op": "open", "path": P}                      -> {"ok": true}
  {"op": "setlk", "type": "w"|"r"|"u", "start": S, "len": L, "wait": bool}
  {"op": "getlk", "type": "w"|"r", "start": S, "len": L} -> {"ok": true, "type": ..., "pid": ...}
  {"op": "flock", "how": "ex"|"sh"|"un", "nb": bool}
  {"op": "unlink", "path": P}
  {"op": "close"}
Failures answer {"ok": false, "errno": E}. One file is open at a time per command target
("fd" names it: any string, default "f")."""

import errno
import fcntl
import json
import os
import struct
import sys

TYPES = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}
NAMES = {v: k for k, v in TYPES.items()}
# struct flock on x86_64/aarch64 Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
FLOCK = "hhqqi"


def main():
    fds = {}
    print(json.dumps({"ok": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        key = cmd.get("fd", "f")
        try:
            reply = {"ok": True}
            op = cmd["op"]
            if op == "open":
                fds[key] = os.open(cmd["path"], os.O_RDWR | os.O_CREAT, 0o644)
            elif op == "setlk":
                arg = struct.pack(FLOCK, TYPES[cmd["type"]], os.SEEK_SET, cmd.get("start", 0), cmd.get("len", 0), 0)
                fcntl.fcntl(fds[key], fcntl.F_SETLKW if cmd.get("wait") else fcntl.F_SETLK, arg)
            elif op == "getlk":
                arg = struct.pack(FLOCK, TYPES[cmd["type"]], os.SEEK_SET, cmd.get("start", 0), cmd.get("len", 0), 0)
                t, _, start, length, pid = struct.unpack(FLOCK, fcntl.fcntl(fds[key], fcntl.F_GETLK, arg))
                reply.update(type=NAMES[t], start=start, len=length, pid=pid)
            elif op == "flock":
                how = {"ex": fcntl.LOCK_EX, "sh": fcntl.LOCK_SH, "un": fcntl.LOCK_UN}[cmd["how"]]
                fcntl.flock(fds[key], how | (fcntl.LOCK_NB if cmd.get("nb") else 0))
            elif op == "unlink":
                os.unlink(cmd["path"])
            elif op == "close":
                os.close(fds.pop(key))
            else:
                reply = {"ok": False, "errno": errno.EINVAL}
        except OSError as e:
            reply = {"ok": False, "errno": e.errno}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()

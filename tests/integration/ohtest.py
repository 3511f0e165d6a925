# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared harness for the openhook integration tests.

Each test file defines scenarios with @case and ends with ohtest.main().
Every scenario runs in a fresh temporary directory under /tmp, starts the
real openhook binary (OPENHOOK_BIN) and speaks the wire protocol byte by
byte with struct and socket.send_fds/recv_fds.  Output is TAP; a scenario
fails on the first failed check, on an exception, or when a broker it
started exits badly or prints a sanitizer report.
"""

import ctypes
import errno
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.path.abspath(os.environ.get("OPENHOOK_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "src", "openhook"))

# Wire constants (include/openhook.h).
CMD_OPEN, CMD_MKDIR, CMD_UNLINK, CMD_RMDIR, CMD_RENAME = 1, 2, 3, 4, 5
CMD_SYMLINK, CMD_LINK, CMD_TRUNCATE, CMD_CONNECT = 6, 7, 8, 9
MSG_MAX = 16384
PATH_MAX = 4096

# Sanitizer reports must fail the scenario: make them abort with a
# recognizable report on stderr.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1:halt_on_error=1:print_stacktrace=1",
    "UBSAN_OPTIONS": "abort_on_error=1:halt_on_error=1:print_stacktrace=1",
    "LSAN_OPTIONS": "exitcode=23",
}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "UndefinedBehaviorSanitizer")


# What ASan says, harmlessly, when a process switches stacks (a clone with
# CLONE_VM, as openhook run starts its helper): not the program's output.
ASAN_STACK_WARNING = ("WARNING: ASan is ignoring requested __asan_handle_no_return",
                      "False positive error reports may follow",
                      "For details see https://github.com/google/sanitizers/issues/189")


def without_sanitizer_warnings(text):
    return "".join(line for line in text.splitlines(True)
                   if not any(w in line for w in ASAN_STACK_WARNING))


class Failure(Exception):
    pass


class Skip(Exception):
    """Raised by a scenario that cannot run here: reported as a TAP SKIP
    with the reason given."""


def check(cond, what="check failed"):
    if not cond:
        raise Failure(what)


def check_eq(got, want, what=""):
    if got != want:
        raise Failure("%s%r, expected %r" % (what + ": " if what else "", got, want))


def env(extra=None):
    """The environment for the real binary: ours, the sanitizer options,
    then EXTRA (a dict)."""
    e = dict(os.environ)
    e.update(SANITIZER_ENV)
    e.update(extra or {})
    return e


_environment = env      # for functions whose env= parameter hides env()


# ---- Scenarios and TAP -------------------------------------------------

_cases = []
_cleanups = []
tmp = None          # the current scenario's directory


def case(fn):
    _cases.append(fn)
    return fn


def defer(fn, *args):
    """Runs FN(*ARGS) when the current scenario ends, last first."""
    _cleanups.append((fn, args))


def _run_cleanups():
    errors = []
    while _cleanups:
        fn, args = _cleanups.pop()
        try:
            fn(*args)
        except Exception as e:  # report, but still clean up the rest
            errors.append(e)
    return errors


def diag(text):
    for line in str(text).splitlines():
        print("# " + line)


def main():
    global tmp
    if not os.access(BIN, os.X_OK):
        print("1..0 # SKIP openhook binary not found at %s (set OPENHOOK_BIN)" % BIN)
        return 0
    only = set(sys.argv[1:])
    selected = [c for c in _cases if not only or c.__name__ in only]
    print("1..%d" % len(selected))
    failed = 0
    for n, fn in enumerate(selected, 1):
        tmp = tempfile.mkdtemp(prefix="ohtest-", dir="/tmp")
        ok, skipped = True, None
        try:
            fn()
        except Skip as e:
            skipped = str(e) or "skipped"
        except Exception as e:
            ok = False
            diag("%s: %s" % (type(e).__name__, e))
            diag("".join(traceback.format_exception(e)[-3:-1]))
        for e in _run_cleanups():
            ok = False
            diag("cleanup: %s: %s" % (type(e).__name__, e))
        shutil.rmtree(tmp, ignore_errors=True)
        failed += not ok
        print("%s %d - %s%s" % ("ok" if ok else "not ok", n, fn.__name__,
                                " # SKIP " + skipped if ok and skipped else ""))
        sys.stdout.flush()
    return 1 if failed else 0


# ---- Files ----------------------------------------------------------------

def path(*parts):
    return os.path.join(tmp, *parts)


def write(p, data=b""):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return p


def read(p):
    with open(p, "rb") as f:
        return f.read()


def fd_read(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    out = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return out
        out += chunk


def b(s):
    return s if isinstance(s, bytes) else os.fsencode(s)


# ---- The wire protocol ----------------------------------------------------

def message(command, payload=b""):
    return struct.pack("=II", 8 + len(payload), command) + payload


def pstr(s):
    s = b(s)
    return struct.pack("=H", len(s)) + s


def open_msg(p, flags=os.O_RDONLY, mode=0, nul=False):
    name = b(p) + (b"\0" if nul else b"")
    return message(CMD_OPEN, struct.pack("=II", flags, mode) + pstr(name))


def mkdir_msg(p, mode=0o755):
    return message(CMD_MKDIR, struct.pack("=I", mode) + pstr(p))


def unlink_msg(p):
    return message(CMD_UNLINK, pstr(p))


def rmdir_msg(p):
    return message(CMD_RMDIR, pstr(p))


def rename_msg(old, new, flags=0):
    return message(CMD_RENAME, struct.pack("=I", flags) + pstr(old) + pstr(new))


def symlink_msg(target, linkpath):
    return message(CMD_SYMLINK, pstr(target) + pstr(linkpath))


def link_msg(old, new):
    return message(CMD_LINK, pstr(old) + pstr(new))


def truncate_msg(p, length):
    return message(CMD_TRUNCATE, struct.pack("=Q", length) + pstr(p))


class Reply:
    def __init__(self, size, command, result, fds):
        self.size, self.command, self.result, self.fds = size, command, result, fds
        defer(self.close)

    def close(self):
        while self.fds:
            os.close(self.fds.pop())

    @property
    def fd(self):
        check_eq(len(self.fds), 1, "fds attached to a result-0 reply")
        return self.fds[0]

    def __repr__(self):
        return "Reply(size=%d, command=%d, result=%d, fds=%r)" % (
            self.size, self.command, self.result, self.fds)


def recv_reply(sock, timeout=10):
    """Reads exactly one 12-byte reply and the fds that came with it."""
    sock.settimeout(timeout)
    data, fds = b"", []
    while len(data) < 12:
        chunk, got, flags, _ = socket.recv_fds(sock, 12 - len(data), 4)
        fds += got
        if not chunk:
            raise Failure("broker closed the connection instead of replying")
        check(not (flags & socket.MSG_CTRUNC), "control data truncated")
        data += chunk
    return Reply(*struct.unpack("=IIi", data), fds)


def request(sock, data, fds=()):
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.sendall(data)
    return recv_reply(sock)


def check_result(reply, want, command=None, what="result"):
    """WANT is 0 or a negative errno; checks the whole reply is well formed."""
    check_eq(reply.size, 12, "reply message_size")
    if command is not None:
        check_eq(reply.command, command, "reply command")
    if reply.result != want:
        name = lambda r: "0" if r == 0 else "-" + errno.errorcode.get(-r, str(-r))
        raise Failure("%s: got %s, expected %s" % (what, name(reply.result), name(want)))
    gives_fd = reply.command in (CMD_OPEN, CMD_CONNECT)
    check_eq(len(reply.fds), 1 if want == 0 and gives_fd else 0,
             "number of fds attached")
    return reply


def open_(sock, p, flags=os.O_RDONLY, mode=0, want=0):
    return check_result(request(sock, open_msg(p, flags, mode)), want, CMD_OPEN, "open %s" % p)


def expect_closed(sock, timeout=10):
    """The broker must close the connection (EOF, or a reset) without a reply."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(64)
    except ConnectionResetError:
        return
    check_eq(data, b"", "bytes received on a connection the broker should close")


# ---- The broker -------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Broker:
    """`openhook serve` started on a socketpair (mode "fd") or on a
    listening socket (mode "listen"); BIN is another build of the binary,
    ENV a dict of variables added to its environment."""

    def __init__(self, args, mode="fd", sock_type=socket.SOCK_STREAM, log=False,
                 quiet=False, extra=(), expect_status=0, bin=None, env=None):
        self.mode = mode
        self.stderr_path = path(".broker-%d.stderr" % id(self))
        self.log_path = path(".broker-%d.log" % id(self)) if log else None
        self.expect_status = expect_status
        argv = [bin or BIN, "serve"] + list(args)
        if self.log_path:
            argv += ["--log", self.log_path]
        if quiet:
            argv.append("--quiet")
        argv += list(extra)
        self._stderr = open(self.stderr_path, "wb")
        pass_fds = ()
        if mode == "fd":
            self.sock, theirs = socket.socketpair(socket.AF_UNIX, sock_type)
            argv += ["--fd", str(theirs.fileno())]
            pass_fds = (theirs.fileno(),)
        else:
            self.sock_path = path("broker.sock")
            argv += ["--listen", self.sock_path]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=self._stderr, pass_fds=pass_fds, env=_environment(env))
        self.pid = self.proc.pid
        defer(self.stop)
        if mode == "fd":
            theirs.close()
        else:
            self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure("broker exited with %s before listening:\n%s" % (
                    self.proc.returncode, self.stderr()))
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.02)
        raise Failure("broker did not start listening")

    def connect(self, sock_type=socket.SOCK_STREAM):
        s = socket.socket(socket.AF_UNIX, sock_type)
        defer(s.close)
        s.connect(self.sock_path)
        return s

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log(self):
        """The --log file as parsed JSON objects (each line must parse)."""
        with open(self.log_path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines()]

    def alive(self):
        return self.proc.poll() is None

    def fd_count(self):
        return fd_count(self.pid)

    def steady_fd_count(self):
        """The fd count once the broker is idle: it closes an fd it passed
        just after the reply went out, so a count taken at once may be one
        too high."""
        last = self.fd_count()
        for _ in range(50):
            time.sleep(0.05)
            now = self.fd_count()
            if now == last:
                return now
            last = now
        return last

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("broker still running after %ss" % timeout)

    def stop(self):
        """Ends the broker (closing our end, SIGTERM for --listen) and checks
        it exited as expected with no sanitizer report."""
        if self.mode == "fd":
            self.sock.close()
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        if self.mode == "listen" and self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("broker did not exit; killed it:\n" + self.stderr())
        self.check_exit(status)

    def check_exit(self, status):
        self._stopped = True
        err = self.stderr()
        self._stderr.close()
        for mark in SANITIZER_MARKS:
            if mark in err:
                raise Failure("sanitizer report from the broker:\n" + err)
        if status != self.expect_status:
            raise Failure("broker exited with %s, expected %s:\n%s" % (
                status, self.expect_status, err))


def run_openhook(*args, timeout=30):
    """Runs the real binary to completion; returns (status, stdout, stderr)
    and fails on a sanitizer report."""
    p = subprocess.run([BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       capture_output=True, env=env(), timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        if mark in err:
            raise Failure("sanitizer report:\n" + err)
    return p.returncode, out, err


def settle(fn, want, timeout=5):
    """Polls FN() until it returns WANT (the broker closes fds
    asynchronously); returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def is_socket(p):
    return stat.S_ISSOCK(os.lstat(p).st_mode)


# ---- Kernel features ----------------------------------------------------------

def landlock_abi():
    """The kernel's Landlock ABI version, or -1 without Landlock."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1))  # landlock_create_ruleset


def seccomp_mode_missing():
    """None if this kernel has what --mode seccomp needs, else why not:
    fd injection with SECCOMP_ADDFD_FLAG_SEND (Linux 5.14), and a broker
    allowed to read the program's memory (Yama's ptrace_scope 3 forbids
    it to everyone).  Judged from the kernel, not from openhook."""
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    if release < (5, 14):
        return "Linux %d.%d has no SECCOMP_ADDFD_FLAG_SEND (5.14): no --mode seccomp" % release
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            if f.read().strip() == "3":
                return "Yama ptrace_scope is 3: no process may read another's memory"
    except FileNotFoundError:
        pass
    return None


# ---- `openhook run` scenarios, once per mode --------------------------------

def mode_args(mode):
    """`openhook run` options for MODE: preload, seccomp (with the shim as
    its fast path) or seccomp-noshim (every open a notification)."""
    if mode == "seccomp-noshim":
        return ["--mode", "seccomp", "--no-shim"]
    return ["--mode", mode]


def scenario_per_mode(modes):
    """A decorator registering FN(mode) once per mode, named "FN[mode]"."""
    def register(fn):
        for mode in modes:
            def run_case(fn=fn, mode=mode):
                fn(mode)
            run_case.__name__ = "%s[%s]" % (fn.__name__, mode)
            case(run_case)
        return fn
    return register


def no_private_tmp():
    """Scenarios' trees lie under /tmp: where `openhook run` grants t there
    by default, the option that turns it off, so that a path no rule names
    is outside the policy."""
    p = subprocess.run([BIN, "run", "--help"], capture_output=True, text=True)
    return ["--no-private-tmp"] if "--no-private-tmp" in p.stdout else []


def own_children():
    """This process's children, of every thread (orphans reparent to us
    when we are a subreaper)."""
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%s/children" % task) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def run_confined(mode, cmd, allow=(), cwd=None, env_extra=None, stdin=None, direct=(),
                 extra=(), timeout=120):
    """Runs CMD under `openhook run` in MODE, granting ALLOW ((perms, path),
    ...).  HOME is CWD (no ~/.sqliterc and friends).  Returns (status,
    stdout, stderr) as text and fails on a sanitizer report."""
    argv = [BIN, "run"] + mode_args(mode)
    for perms, p in allow:
        argv += ["--allow", "%s:%s" % (perms, p)]
    for d in direct:
        argv += ["--direct", d]
    e = env({"HOME": cwd or tmp})
    e.update(env_extra or {})
    p = subprocess.run(argv + list(extra) + ["--"] + [str(c) for c in cmd], cwd=cwd, env=e,
                       input=stdin.encode() if isinstance(stdin, str) else stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        check(mark not in err, "sanitizer report:\n" + err)
    return p.returncode, out, err


def ok(result, what):
    """The program succeeded; returns its stdout."""
    status, out, err = result
    if status != 0:
        raise Failure("%s exited %d:\n%s%s" % (what, status, out, err))
    return out


def refused(result, what, status=None):
    """The program failed, and said it was refused."""
    st, out, err = result
    check(st != 0, "%s succeeded although the policy refuses it:\n%s" % (what, out))
    if status is not None:
        check_eq(st, status, what + " exit status")
    check("denied" in err or "Permission denied" in err or "not permitted" in err,
          "%s failed for another reason:\n%s" % (what, err))
    return out

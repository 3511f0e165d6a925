#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ways out of `openhook run` that are not file opens, tried as an attacker
would, once per mode (preload, seccomp, seccomp --no-shim).

Each scenario is named after the channel it tries.  The confined program
is a small python3 script making the calls through Python, libc and raw
syscalls (ctypes), and it prints what it got; but what decides is what the
test sees from outside the sandbox: the terminal's input queue, a listening
socket, a victim process, a file's mode, times, xattrs and flags, a key's
secret or a file's content missing from the program's output."""

import array
import ctypes
import errno
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
import tty

import ohtest
from ohtest import BIN, Failure, Skip, check, check_eq, path, write

PYTHON = "/usr/bin/python3"
MODES = ("preload", "seccomp", "seccomp-noshim")
scenario = ohtest.scenario_per_mode(MODES)

OLD = 1000000000        # 2001-09-09: the times the test gives its files
NEW = 1200000000        # what the program tries to set

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# Prepended to every confined script: raw syscalls and libc calls that give
# 0 (or a count) or -errno, and a report line "= WHAT RESULT" per attempt.
PRELUDE = r'''
import ctypes, errno, os, signal, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def _arg(a):
    return ctypes.c_long(a) if isinstance(a, int) else a
def raw(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *map(_arg, args))
    return r if r >= 0 else -ctypes.get_errno()
def lib(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    return r if r >= 0 else -ctypes.get_errno()
def say(what, r):
    print("=", what, "ok" if r >= 0 else errno.errorcode.get(-r, str(-r)), flush=True)
    return r
def attempt(what, fn):
    try:
        fn()
        r = 0
    except OSError as e:
        r = -e.errno
    return say(what, r)
def sun(p):
    """A struct sockaddr_un for raw syscalls: (buffer, length)."""
    b = p if isinstance(p, bytes) else os.fsencode(p)
    if not b.startswith(b"\0"):
        b += b"\0"
    data = struct.pack("=H", socket.AF_UNIX) + b
    return ctypes.create_string_buffer(data, len(data)), len(data)
'''


def script(body):
    return [PYTHON, "-I", "-c", PRELUDE + body]


def results(out):
    """The program's report lines: {WHAT: RESULT}."""
    got = {}
    for line in out.splitlines():
        if line.startswith("= "):
            what, _, result = line[2:].rpartition(" ")
            got[what] = result
    return got


def no_sanitizer_report(err):
    for mark in ohtest.SANITIZER_MARKS:
        check(mark not in err, "sanitizer report:\n" + err)


def check_all(got, want, keys, what):
    """Every attempt in KEYS was made and answered WANT."""
    missing = [k for k in keys if k not in got]
    check(not missing, "%s: no report for %s (got %r)" % (what, missing, got))
    wrong = {k: got[k] for k in keys if got[k] != want}
    check(not wrong, "%s: expected %s, got %r" % (what, want, wrong))


def run_argv(mode, allow=(), direct=(), extra=()):
    """`openhook run` in MODE up to and including "--"."""
    if mode != "preload" and ohtest.seccomp_mode_missing():
        raise Skip(ohtest.seccomp_mode_missing())
    argv = [BIN, "run"] + ohtest.mode_args(mode)
    for perms, p in allow:
        argv += ["--allow", "%s:%s" % (perms, p)]
    for d in direct:
        argv += ["--direct", d]
    return argv + list(extra) + ["--"]


def confined(mode, body, *args, allow=(), direct=(), extra=(), timeout=60):
    """Runs a python3 script under `openhook run`; stdin is empty, never
    the test's terminal.  Returns (status, stdout, stderr)."""
    run_argv(mode)      # skips where the mode is missing
    return ohtest.run_confined(mode, script(body) + [str(a) for a in args], allow, cwd=ohtest.tmp,
                               direct=direct, extra=extra, stdin=b"", timeout=timeout)


def need_landlock_scoping():
    """Abstract sockets and signals are scoped by Landlock ABI 6: below it,
    openhook run says in one line that it cannot scope them, and the
    scenario is skipped."""
    abi = ohtest.landlock_abi()
    if abi >= 6:
        return
    status, _, err = ohtest.run_openhook("run", "--", "true")
    lines = [l for l in err.splitlines() if "scop" in l.lower() or "abstract" in l or "signal" in l]
    check(status == 0 and len(lines) == 1,
          "Landlock ABI %d: openhook run should say in one line that it cannot scope "
          "abstract sockets and signals (status %d): %r" % (abi, status, err))
    raise Skip("Landlock ABI %d < 6: no scoping of abstract sockets and signals on this kernel" % abi)


# /proc, as read by the test and by the PID-namespace wrapper below.
PROC = r'''
import os
def proc_stat(pid):
    """(comm, [state, ppid, pgrp, session, ...]) of PID, or None."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
def processes(comm=None, ppid=None, session=None):
    """The pids whose comm, parent and session are as given."""
    found = []
    for entry in os.listdir("/proc"):
        st = proc_stat(entry) if entry.isdigit() else None
        if (st and comm in (None, st[0]) and ppid in (None, int(st[1][1]))
                and session in (None, int(st[1][3]))):
            found.append(int(entry))
    return found
def alive(pid):
    """PID exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[1][0] != "Z"
def leads_its_group(pid):
    """PID leads a process group of its own (the broker makes one first
    thing; the abstract connector's go-between, run's child too for a
    moment, does not)."""
    st = proc_stat(pid)
    return st is not None and int(st[1][2]) == pid
'''
exec(PROC)


def children(pid):
    """{pid: comm} of the processes whose parent is PID."""
    return {k: (proc_stat(k) or ("?",))[0] for k in processes(ppid=pid)}


def in_session(sid, comm):
    """The processes named COMM in session SID."""
    return processes(comm=comm, session=sid)


def find_broker(run_pid, command_pid):
    """The broker: the child of `openhook run` that is not the command and
    leads a process group of its own."""
    others = [p for p in children(run_pid) if p != command_pid and leads_its_group(p)]
    check(len(others) == 1, "openhook run (%d) should have one child beside the command (%d): %r" % (
        run_pid, command_pid, children(run_pid)))
    return others[0]


class Handshake:
    """A confined script that prints "pid N" first and then reads the
    broker's pid on stdin; it reports, prints "done" and waits for one
    more line, so that the test can look at things while it still runs."""

    def __init__(self, mode, body, *args, allow=()):
        self.err_path = path(".run-%d.stderr" % id(self))
        self._err = open(self.err_path, "wb")
        ohtest.defer(self._err.close)
        self.proc = subprocess.Popen(run_argv(mode, allow) + script(body) + [str(a) for a in args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                     cwd=ohtest.tmp, env=ohtest.env({"HOME": ohtest.tmp}), bufsize=0)
        ohtest.defer(self.kill)
        self._buf = b""
        first = self.readline(20)
        check(first.startswith("pid "), "the program did not start: %r\n%s" % (first, self.stderr()))
        self.command = int(first.split()[1])
        self.broker = find_broker(self.proc.pid, self.command)
        self.out = ""
        self.proc.stdin.write(b"%d\n" % self.broker)
        self.proc.stdin.flush()
        while True:
            line = self.readline(20)
            check(line != "", "the program ended before it was done:\n%s%s" % (self.out, self.stderr()))
            if line == "done\n":
                break
            self.out += line

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise Failure("no output from the program in %ds:\n%s%s" % (
                    timeout, self._buf.decode(errors="replace"), self.stderr()))
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self._buf += chunk
        line, nl, self._buf = self._buf.partition(b"\n")
        return (line + nl).decode(errors="replace")

    def finish(self):
        """Lets the program exit; returns (status, stdout, stderr)."""
        self.proc.stdin.write(b"exit\n")
        self.proc.stdin.close()
        self.out += (self._buf + self.proc.stdout.read()).decode(errors="replace")
        status = self.proc.wait(20)
        no_sanitizer_report(self.stderr())
        return status, self.out, self.stderr()

    def stderr(self):
        self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for p in (getattr(self, "command", 0), getattr(self, "broker", 0)):
            if p and alive(p):
                os.kill(p, signal.SIGKILL)
        self.proc.stdout.close()


HANDSHAKE = r'''
print("pid", os.getpid(), flush=True)
broker = int(sys.stdin.readline())
'''
HANDSHAKE_END = r'''
print("done", flush=True)
sys.stdin.readline()
'''


# ---- Terminal ----------------------------------------------------------------

class Terminal:
    """A pseudo-terminal that becomes the controlling terminal of what is
    started on it (a new session, TIOCSCTTY); stdin, stdout and stderr are
    all the terminal.  The test keeps the slave open to look at its input
    queue."""

    def __init__(self, raw):
        self.master, self.slave = os.openpty()
        ohtest.defer(os.close, self.slave)
        ohtest.defer(os.close, self.master)
        if raw:
            tty.setraw(self.slave)      # FIONREAD then counts every byte queued
        self.out = b""
        self.proc = None

    def start(self, argv, env_extra=None):
        def take_terminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        e = ohtest.env({"HOME": ohtest.tmp, "TERM": "dumb"})
        e.update(env_extra or {})
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     cwd=ohtest.tmp, env=e, start_new_session=True,
                                     preexec_fn=take_terminal)
        ohtest.defer(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def pump(self, timeout):
        """Reads what the terminal shows, once. Returns whether it read."""
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return False
            self.out += data
            return bool(data)
        return False

    def send(self, data):
        self.mark = len(self.out)
        os.write(self.master, data)

    def expect(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out[getattr(self, "mark", 0):]:
            if time.monotonic() > deadline:
                raise Failure("no %r on the terminal in %ds; it shows:\n%s" % (
                    text, timeout, self.out.decode(errors="replace")))
            self.pump(0.1)

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise Failure("still running after %ds; the terminal shows:\n%s" % (
                    timeout, self.out.decode(errors="replace")))
            self.pump(0.05)
        # A read takes one chunk of what waits: all of it, once the
        # program is gone, however far behind a loaded machine left us.
        if self.pump(0.2):
            while self.pump(0):
                pass
        no_sanitizer_report(self.out.decode(errors="replace"))
        return self.proc.returncode

    def input_queue(self):
        n = array.array("i", [0])
        fcntl.ioctl(self.slave, termios.FIONREAD, n, True)
        return n[0]

    def queued(self):
        """What is waiting in the terminal's input queue (read, so gone)."""
        data = b""
        while select.select([self.slave], [], [], 0)[0]:
            data += os.read(self.slave, 4096)
        return data


TERMINAL_INJECTION = r'''
import fcntl
TIOCSTI, TIOCLINUX, HIGH = 0x5412, 0x541C, 0xffffffff00000000
c = ctypes.c_char(b"!")
paste = ctypes.create_string_buffer(b"\x03" + bytes(63))     # TIOCL_PASTESEL
tty = os.open("/dev/tty", os.O_RDWR)
for where, fd in (("/dev/tty", tty), ("fd0", 0), ("fd1", 1), ("fd2", 2)):
    for req, code, arg, pyarg in (("TIOCSTI", TIOCSTI, c, b"!"), ("TIOCLINUX", TIOCLINUX, paste, paste.raw)):
        for high in (0, HIGH):
            what = "%s %s%s" % (where, req, "-high" if high else "")
            say(what + " libc", lib(libc.ioctl, ctypes.c_int(fd), ctypes.c_ulong(high | code), ctypes.byref(arg)))
            say(what + " raw", raw(16, fd, high | code, ctypes.byref(arg)))
        attempt("%s %s python" % (where, req), lambda: fcntl.ioctl(fd, code, pyarg))
print("done", flush=True)
'''


def terminal_injection_keys():
    keys = []
    for where in ("/dev/tty", "fd0", "fd1", "fd2"):
        for req in ("TIOCSTI", "TIOCLINUX"):
            for high in ("", "-high"):
                keys += ["%s %s%s %s" % (where, req, high, how) for how in ("libc", "raw")]
            keys.append("%s %s python" % (where, req))
    return keys


@scenario
def terminal_tiocsti_and_tioclinux(mode):
    term = Terminal(raw=True)
    # The judge works: what the test itself pushes shows in the queue.
    fcntl.ioctl(term.slave, termios.TIOCSTI, b"x")
    check_eq(term.input_queue(), 1, "FIONREAD after the test's own TIOCSTI")
    check_eq(term.queued(), b"x", "the test's own TIOCSTI")
    term.start(run_argv(mode) + script(TERMINAL_INJECTION))
    status = term.wait()
    shown = term.out.decode(errors="replace")
    queued, inq = term.input_queue(), term.queued()
    check_eq((queued, inq), (0, b""), "pushed into the terminal's input queue (the terminal shows:\n%s)" % shown)
    check_eq(status, 0, "status (the terminal shows:\n%s)" % shown)
    check("done" in shown, "the program did not finish:\n" + shown)
    check_all(results(shown.replace("\r", "")), "EPERM", terminal_injection_keys(), "TIOCSTI and TIOCLINUX")


@scenario
def terminal_interactive_shell_and_python_still_work(mode):
    term = Terminal(raw=False)
    term.start(run_argv(mode) + ["/bin/sh", "-i"], {"PS1": "$ ", "ENV": ""})
    term.send(b"echo hi-$((1+1))\n")
    term.expect("hi-2")
    term.send(b"sleep 30 &\n")
    term.send(b"jobs\n")
    term.expect("Running")
    # Until the job has exec'd sleep, its shell child may still ignore
    # SIGTERM as an interactive shell does.
    check(ohtest.settle(lambda: bool(in_session(term.proc.pid, "sleep")), True, timeout=15),
          "the job's sleep never started:\n" + term.out.decode(errors="replace"))
    term.send(b"kill %1\n")
    term.send(b"wait; jobs\n")
    term.send(b"echo jobs-$((40+2))\n")
    term.expect("jobs-42")
    check(b"Terminated" in term.out, "kill %%1 did not end the job:\n%s" % term.out.decode(errors="replace"))
    term.send(b"exit\n")
    check_eq(term.wait(), 0, "sh -i's status")

    term = Terminal(raw=False)
    term.start(run_argv(mode) + [PYTHON, "-q", "-i"])
    term.expect(">>> ")
    term.send(b"print(6*7)\n")
    term.expect("42")
    term.send(b"raise SystemExit(3)\n")
    check_eq(term.wait(), 3, "python3 -i's status")


# ---- UNIX sockets by path ------------------------------------------------------

UNIX_CONNECT = r'''
for how, target in (("direct", sys.argv[1]), ("symlink", sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if attempt(how + " python", lambda: s.connect(target)) == 0:
        s.sendall(b"python-%s;" % how.encode())
    s.close()
    fd = raw(41, socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0)
    addr, n = sun(target)
    if say(how + " raw", raw(42, fd, addr, n)) == 0:
        os.write(fd, b"raw-%s;" % how.encode())
    os.close(fd)
'''


def unix_listener(p, kind):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    s = socket.socket(socket.AF_UNIX, kind)
    ohtest.defer(s.close)
    s.bind(p)
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    s.setblocking(False)
    return s


def accepted(listener):
    """Everything the connections waiting on LISTENER sent."""
    data = b""
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return data
        with conn:
            conn.settimeout(5)
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk


def received(sock):
    got = []
    while True:
        try:
            got.append(sock.recv(4096))
        except BlockingIOError:
            return got


def check_denial_names(err, p):
    check("denied" in err and p in err, "no denial line naming %s on stderr: %r" % (p, err))


def socket_by_path(mode, kind, body, keys, perms):
    """Runs BODY twice against a socket of KIND the test listens on (and a
    symlink to it): first with the socket outside the policy, then with
    --allow PERMS:SOCKET.  Returns what the socket got the second time."""
    sock = path("run", "app.sock")
    listener = unix_listener(sock, kind)
    take = accepted if kind == socket.SOCK_STREAM else lambda s: b";".join(received(s))
    link = path("link.sock")
    os.symlink(sock, link)
    unrelated = write(path("data", "f"), "f\n")

    status, out, err = confined(mode, body, sock, link, allow=[("rw", unrelated)])
    check_eq(status, 0, "status: " + err)
    check_eq(take(listener), b"", "what the socket got from a program the policy refuses it")
    check_all(results(out), "EACCES", keys, "without w on the socket")
    check_denial_names(err, sock)

    status, out, err = confined(mode, body, sock, link, allow=[(perms, sock)])
    check_eq(status, 0, "status: " + err)
    check_all(results(out), "ok", [k for k in keys if k.startswith("direct")], "with --allow %s:" % perms)
    return take(listener)


@scenario
def unix_stream_socket_by_path(mode):
    data = socket_by_path(mode, socket.SOCK_STREAM, UNIX_CONNECT,
                          ["direct python", "direct raw", "symlink python", "symlink raw"], "w")
    check(b"python-direct;" in data and b"raw-direct;" in data, "data through the granted socket: %r" % data)


UNIX_SENDTO = r'''
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
for how, target in (("direct", sys.argv[1]), ("symlink", sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tag = how.encode()
    attempt(how + " sendto python", lambda: s.sendto(b"sendto-python-" + tag, target))
    attempt(how + " sendmsg python", lambda: s.sendmsg([b"sendmsg-python-" + tag], [], 0, target))
    addr, n = sun(target)
    msg = b"sendto-raw-" + tag
    say(how + " sendto raw", raw(44, s.fileno(), msg, len(msg), 0, addr, n))
    body = ctypes.create_string_buffer(b"sendmsg-raw-" + tag)
    iov = (ctypes.c_size_t * 2)(ctypes.addressof(body), len(body.value))
    hdr = msghdr(ctypes.addressof(addr), n, ctypes.addressof(iov), 1, None, 0, 0)
    say(how + " sendmsg raw", raw(46, s.fileno(), ctypes.byref(hdr), 0))
    s.close()
'''


@scenario
def unix_datagram_socket_by_path(mode):
    keys = ["%s %s %s" % (how, call, via) for how in ("direct", "symlink")
            for call in ("sendto", "sendmsg") for via in ("python", "raw")]
    got = socket_by_path(mode, socket.SOCK_DGRAM, UNIX_SENDTO, keys, "rw")
    for want in (b"sendto-python-direct", b"sendmsg-python-direct", b"sendto-raw-direct", b"sendmsg-raw-direct"):
        check(want in got, "%r not delivered through the granted socket: %r" % (want, got))


# ---- Abstract sockets and signals ------------------------------------------------

ABSTRACT = r'''
name, dname = b"\0" + sys.argv[1].encode(), b"\0" + sys.argv[2].encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if attempt("connect python", lambda: s.connect(name)) == 0:
    s.sendall(b"python;")
fd = raw(41, socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0)
addr, n = sun(name)
if say("connect raw", raw(42, fd, addr, n)) == 0:
    os.write(fd, b"raw;")
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
attempt("sendto python", lambda: d.sendto(b"python", dname))
addr, n = sun(dname)
say("sendto raw", raw(44, d.fileno(), b"raw", 3, 0, addr, n))
# Its own abstract socket, inside the sandbox, still works.
own = b"\0" + sys.argv[1].encode() + b"-inside"
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(own)
srv.listen()
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
attempt("own connect", lambda: c.connect(own))
'''


@scenario
def abstract_unix_socket(mode):
    need_landlock_scoping()
    name = "openhook-test-" + secrets.token_hex(8)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ohtest.defer(listener.close)
    listener.bind(b"\0" + name.encode())
    listener.listen(16)
    listener.setblocking(False)
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ohtest.defer(receiver.close)
    receiver.bind(b"\0" + name.encode() + b"-dgram")
    receiver.setblocking(False)

    status, out, err = confined(mode, ABSTRACT, name, name + "-dgram")
    check_eq(status, 0, "status: " + err)
    check_eq(accepted(listener), b"", "what the abstract listener outside got")
    check_eq(received(receiver), [], "datagrams the abstract socket outside got")
    got = results(out)
    check_all(got, "EPERM", ["connect python", "connect raw", "sendto python", "sendto raw"],
              "abstract sockets outside")
    check_all(got, "ok", ["own connect"], "its own abstract socket")


# Runs as pid 1 of a new PID namespace (unshare), so that a kill(-1) that
# got out could reach no process but these: starts the victim and openhook
# run, hands the program the broker's pid, and reports as one JSON line
# whether the victim, the broker and run are still alive while the program
# waits, then how run ended.
SIGNALS_WRAPPER = PROC + r'''
import ctypes, json, select, subprocess, sys, time
argv, body, err_path, contained = json.loads(sys.argv[1])
# The abstract connector, orphaned at start, becomes our child too.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)        # PR_SET_CHILD_SUBREAPER
victim = subprocess.Popen(["/bin/sleep", "120"])
err = open(err_path, "wb")
p = subprocess.Popen(argv + [body, str(victim.pid), contained], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=err, bufsize=0)     # readline: no read-ahead
res = {"out": ""}
def line():
    if not select.select([p.stdout], [], [], 20)[0]:
        return ""
    return p.stdout.readline().decode(errors="replace")
first = line()
if first.startswith("pid "):
    command = int(first.split()[1])
    others = [k for k in processes(ppid=p.pid) if k != command and leads_its_group(k)]
    res["broker"] = broker = others[0] if len(others) == 1 else 0
    connector = 0
    for _ in range(200):
        found = [k for k in processes(ppid=os.getpid()) if k not in (p.pid, victim.pid)]
        # "openhook-connec": the name it gives itself, cut to 15 bytes
        if len(found) == 1 and proc_stat(found[0])[0].startswith("openhook"):
            connector = found[0]
            break
        time.sleep(0.01)
    res["connector"] = connector
    p.stdin.write(b"%d %d\n" % (broker, connector))
    p.stdin.flush()
    while True:
        l = line()
        if not l or l == "done\n":
            break
        res["out"] += l
    time.sleep(0.2)
    res.update(victim=alive(victim.pid), broker_alive=alive(broker), run=p.poll() is None)
    if connector:
        st = proc_stat(connector)
        res["connector_state"] = st[1][0] if st else "gone"
        with open("/proc/%d/status" % connector) as f:
            res["connector_tracer"] = [int(l.split()[1]) for l in f if l.startswith("TracerPid:")][0]
    p.stdin.write(b"exit\n")
else:
    res["out"] = first
p.stdin.close()
res["out"] += p.stdout.read().decode(errors="replace")
res["status"] = p.wait(30)
victim.kill()
print(json.dumps(res))
'''

SIGNALS = r'''
import subprocess
victim, contained = int(sys.argv[1]), sys.argv[2] == "1"
print("pid", os.getpid(), flush=True)
broker, connector = map(int, sys.stdin.readline().split())
outside = {"victim": victim, "broker": broker, "run": os.getppid(), "connector": connector}
# 0 would be our own process group: none found, no probe.
probes = {n: say("probe " + n, raw(62, pid, 0)) for n, pid in outside.items() if pid > 0}
# The abstract connector: in the domain ours is nested in, out of reach.
if connector > 0:
    say("stop connector raw", raw(62, connector, signal.SIGSTOP))
    say("PTRACE_ATTACH connector", raw(101, 16, connector, 0, 0))
    say("PTRACE_SEIZE connector", raw(101, 0x4206, connector, 0, 0))
    # It runs in run's memory: none of it may be read or written.
    attempt("connector mem", lambda: os.open("/proc/%d/mem" % connector, os.O_RDWR))
    attempt("connector maps", lambda: os.open("/proc/%d/maps" % connector, os.O_RDONLY))
    word = ctypes.create_string_buffer(8)
    local = struct.pack("=QQ", ctypes.addressof(word), 8)
    remote = struct.pack("=QQ", 0x10000, 8)
    say("process_vm_readv connector", raw(310, connector, local, 1, remote, 1, 0))
    say("process_vm_writev connector", raw(311, connector, local, 1, remote, 1, 0))
    pidfd = raw(434, connector, 0)
    say("pidfd_getfd connector", raw(438, pidfd, 3, 0) if pidfd >= 0 else pidfd)
    # And it still serves: our own abstract socket, through it.
    server = socket.socket(socket.AF_UNIX)
    server.bind(b"\0openhook-test-%d" % os.getpid())
    server.listen()
    attempt("own abstract connect", lambda: socket.socket(socket.AF_UNIX).connect(server.getsockname()))
child = subprocess.Popen(["/bin/sleep", "60"])
attempt("own child", lambda: os.kill(child.pid, signal.SIGTERM))
print("= own child status", child.wait(), flush=True)
child = subprocess.Popen(["/bin/sleep", "60"])
say("own child raw", raw(62, child.pid, signal.SIGTERM))
child.wait()
for n in ("victim", "broker"):
    attempt("kill %s python" % n, lambda: os.kill(outside[n], signal.SIGTERM))
    say("kill %s raw" % n, raw(62, outside[n], signal.SIGTERM))
# kill(-1) only where every probe outside was refused, and only in a PID
# namespace of the test's own (where no other process can be hit).
if contained and all(r == -errno.EPERM for r in probes.values()):
    raw(62, -1, signal.SIGKILL)
    print("= kill-1 tried", flush=True)
print("done", flush=True)
sys.stdin.readline()
'''


def pid_namespace_missing():
    if not shutil.which("unshare"):
        return "no unshare(1)"
    p = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return None if p.returncode == 0 else "unshare --pid fails: %s" % p.stderr.decode().strip()


@scenario
def signals(mode):
    need_landlock_scoping()
    missing = pid_namespace_missing()
    if missing:
        ohtest.diag("kill(-1) is not tried: " + missing)
    err_path = path("run.stderr")
    args = json.dumps([run_argv(mode) + [PYTHON, "-I", "-c"], PRELUDE + SIGNALS, err_path, "0" if missing else "1"])
    wrapper = [PYTHON, "-c", SIGNALS_WRAPPER, args]
    if not missing:
        wrapper = ["unshare", "--pid", "--fork", "--mount-proc"] + wrapper
    p = subprocess.run(wrapper, stdin=subprocess.DEVNULL, capture_output=True, cwd=ohtest.tmp,
                       env=ohtest.env({"HOME": ohtest.tmp}), timeout=90)
    err = ohtest.read(err_path).decode(errors="replace")
    no_sanitizer_report(err)
    last = (p.stdout.decode().strip().splitlines() or [""])[-1]
    check(last.startswith("{"), "the wrapper reported nothing (was it killed?): %r %r\n%s" % (
        p.stdout, p.stderr, err))
    res = json.loads(last)
    ohtest.diag(res["out"])
    check(res.get("broker"), "no broker found: %r\n%s" % (res, err))
    check(res.get("connector"), "no abstract connector found: %r\n%s" % (res, err))
    check_eq(res.get("connector_state"), "S", "the connector's state (not stopped, not gone)")
    check_eq(res.get("connector_tracer"), 0, "the connector's TracerPid")
    check_eq(res.get("victim"), True, "the victim outside is alive")
    check_eq(res.get("broker_alive"), True, "the broker is alive")
    check_eq(res.get("run"), True, "openhook run is alive")
    check_eq(res["status"], 0, "status: " + err)
    got = results(res["out"])
    check_all(got, "EPERM", ["probe victim", "probe broker", "probe run", "kill victim python",
                             "kill victim raw", "kill broker python", "kill broker raw", "probe connector",
                             "stop connector raw", "PTRACE_ATTACH connector", "PTRACE_SEIZE connector",
                             "process_vm_readv connector", "process_vm_writev connector",
                             "pidfd_getfd connector"],
              "signals and ptrace outside")
    check_all(got, "EACCES", ["connector mem", "connector maps"], "the connector's memory through /proc")
    check_eq(got.get("own abstract connect"), "ok", "its own abstract socket, through the connector, after all that")
    check_all(got, "ok", ["own child", "own child raw"], "signals to its own child")
    check_eq(got.get("own child status"), "-15", "its own child ended by SIGTERM")
    if not missing:
        check_eq(got.get("kill-1"), "tried", "kill(-1, SIGKILL) inside")


# ---- Keyrings ----------------------------------------------------------------------

KEYRING = r'''
key = int(sys.argv[1])
buf = ctypes.create_string_buffer(4096)
n = say("read", raw(250, 11, key, buf, 4096))              # KEYCTL_READ
if n > 0:
    print("content", buf.raw[:n].decode(errors="replace"))
n = say("describe", raw(250, 6, key, buf, 4096))          # KEYCTL_DESCRIBE
if n > 0:
    print("description", buf.value.decode(errors="replace"))
say("user keyring", raw(250, 0, -4, 0))                   # KEYCTL_GET_KEYRING_ID
say("session keyring", raw(250, 0, -3, 0))
if sys.argv[2] != "-":
    say("add_key", raw(248, b"user", sys.argv[2].encode(), b"planted", 7, -4))
    say("request_key", raw(249, b"user", sys.argv[2].encode(), None, 0))
print("probed", flush=True)
'''


def keyctl(*args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(250), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return r if r >= 0 else -ctypes.get_errno()


@scenario
def keyring(mode):
    name = "openhook-test-" + secrets.token_hex(8)
    secret = ("oh-key-" + secrets.token_hex(16)).encode()
    key = libc.syscall(ctypes.c_long(248), b"user", name.encode(), secret, ctypes.c_long(len(secret)),
                       ctypes.c_long(-4))
    if key < 0:
        raise Skip("cannot add a key to the user keyring here: %s" % os.strerror(ctypes.get_errno()))
    ohtest.defer(keyctl, 9, key, -4)        # KEYCTL_UNLINK
    ohtest.defer(keyctl, 3, key)            # KEYCTL_REVOKE
    check_eq(keyctl(5, key, 0x3f3f0000), 0, "KEYCTL_SETPERM: every process of ours may read it")
    # The judge works: a program outside reads the secret.
    p = subprocess.run(script(KEYRING) + [str(key), "-"], capture_output=True, stdin=subprocess.DEVNULL)
    check(secret in p.stdout, "an unconfined program cannot read the key: %r" % p.stdout)

    planted = "openhook-planted-" + secrets.token_hex(8)
    status, out, err = confined(mode, KEYRING, key, planted)
    planted_key = keyctl(10, -4, b"user", planted.encode(), 0)       # KEYCTL_SEARCH
    if planted_key >= 0:
        keyctl(9, planted_key, -4)
    check(planted_key < 0, "the program added a key to the user keyring")
    check(secret.decode() not in out, "the key's secret reached the program:\n" + out)
    check_eq((status, "probed" in out), (0, True), "a program probing for a keyring runs on: " + err)
    check_all(results(out), "EPERM", ["read", "describe", "user keyring", "session keyring", "add_key",
                                      "request_key"], "keyctl, add_key, request_key")


# ---- Metadata through fds ----------------------------------------------------------

FS_IOC_GETFLAGS, FS_IOC_SETFLAGS = 0x80086601, 0x40086602
FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR = 0x801C581F, 0x401C5820
FS_NODUMP_FL, FS_XFLAG_NODUMP = 0x40, 0x80

METADATA = r'''
import fcntl
NEW = %d
GETFLAGS, SETFLAGS, FSGETXATTR, FSSETXATTR = %d, %d, %d, %d
group = sys.argv[1]
for p in sys.argv[2:]:
    fd = os.open(p, os.O_RDONLY)
    st = os.fstat(fd)
    t = os.path.basename(p) + " "
    ts = (ctypes.c_long * 4)(NEW, 0, NEW, 0)        # struct timespec[2]
    tv = (ctypes.c_long * 4)(NEW, 0, NEW, 0)        # struct timeval[2]
    if group == "owner-mode-times":
        attempt(t + "fchmod python", lambda: os.fchmod(fd, 0o4777))
        say(t + "fchmod raw", raw(91, fd, 0o4777))
        attempt(t + "fchown python", lambda: os.fchown(fd, st.st_uid, st.st_gid))
        say(t + "fchown raw", raw(93, fd, st.st_uid, st.st_gid))
        say(t + "fchownat libc", lib(libc.fchownat, fd, b"", st.st_uid, st.st_gid, 0x1000))
        say(t + "fchownat raw", raw(260, fd, b"", st.st_uid, st.st_gid, 0x1000))
        attempt(t + "futimens python", lambda: os.utime(fd, (NEW, NEW)))
        say(t + "futimens libc", lib(libc.futimens, fd, ts))
        say(t + "utimensat raw", raw(280, fd, None, ts, 0))
        say(t + "futimesat libc", lib(libc.futimesat, fd, None, tv))
        say(t + "futimesat raw", raw(261, fd, None, tv))
    elif group == "xattrs":
        attempt(t + "fsetxattr python", lambda: os.setxattr(fd, "user.x", b"1"))
        say(t + "fsetxattr raw", raw(190, fd, b"user.x", b"1", 1, 0))
        attempt(t + "fremovexattr python", lambda: os.removexattr(fd, "user.keep"))
        say(t + "fremovexattr raw", raw(199, fd, b"user.keep"))
    elif group == "flags":
        flags = ctypes.c_int(0)
        lib(libc.ioctl, fd, ctypes.c_ulong(GETFLAGS), ctypes.byref(flags))
        new = ctypes.c_int(flags.value | 0x40)              # FS_NODUMP_FL
        say(t + "FS_IOC_SETFLAGS libc", lib(libc.ioctl, fd, ctypes.c_ulong(SETFLAGS), ctypes.byref(new)))
        say(t + "FS_IOC_SETFLAGS raw", raw(16, fd, SETFLAGS, ctypes.byref(new)))
        attempt(t + "FS_IOC_SETFLAGS python", lambda: fcntl.ioctl(fd, SETFLAGS, struct.pack("i", new.value)))
        fsx = ctypes.create_string_buffer(28)
        lib(libc.ioctl, fd, ctypes.c_ulong(FSGETXATTR), fsx)
        fsx = ctypes.create_string_buffer(struct.pack("I", struct.unpack_from("I", fsx.raw)[0] | 0x80) + fsx.raw[4:28], 28)
        say(t + "FS_IOC_FSSETXATTR libc", lib(libc.ioctl, fd, ctypes.c_ulong(FSSETXATTR), fsx))
        say(t + "FS_IOC_FSSETXATTR raw", raw(16, fd, FSSETXATTR, fsx))
        attempt(t + "FS_IOC_FSSETXATTR python", lambda: fcntl.ioctl(fd, FSSETXATTR, fsx.raw))
    os.close(fd)
print("done", flush=True)
''' % (NEW, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR)

METADATA_KEYS = {
    "owner-mode-times": ["fchmod python", "fchmod raw", "fchown python", "fchown raw", "fchownat libc",
                         "fchownat raw", "futimens python", "futimens libc", "utimensat raw",
                         "futimesat libc", "futimesat raw"],
    "xattrs": ["fsetxattr python", "fsetxattr raw", "fremovexattr python", "fremovexattr raw"],
    "flags": ["FS_IOC_SETFLAGS libc", "FS_IOC_SETFLAGS raw", "FS_IOC_SETFLAGS python",
              "FS_IOC_FSSETXATTR libc", "FS_IOC_FSSETXATTR raw", "FS_IOC_FSSETXATTR python"],
}


def user_xattrs_missing(d):
    probe = write(os.path.join(d, ".xattr-probe"))
    try:
        os.setxattr(probe, "user.probe", b"1")
        return None
    except OSError as e:
        return "no user xattrs on %s: %s" % (d, e.strerror)
    finally:
        os.unlink(probe)


def file_ioctl(p, request, buf):
    """ioctl(REQUEST) on P opened read-only, as chattr does; BUF is
    read and written in place and returned."""
    fd = os.open(p, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, request, buf, True)
        return buf
    finally:
        os.close(fd)


def get_flags(p):
    return file_ioctl(p, FS_IOC_GETFLAGS, array.array("i", [0]))[0]


def set_flags(p, flags):
    file_ioctl(p, FS_IOC_SETFLAGS, array.array("i", [flags]))


def inode_flags_missing(d):
    probe = write(os.path.join(d, ".flags-probe"))
    try:
        set_flags(probe, get_flags(probe) | FS_NODUMP_FL)
        if not get_flags(probe) & FS_NODUMP_FL:
            return "FS_NODUMP_FL does not stick on %s" % d
        file_ioctl(probe, FS_IOC_FSGETXATTR, bytearray(28))
        return None
    except OSError as e:
        return "no inode flags (FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR) on %s: %s" % (d, e.strerror)
    finally:
        os.unlink(probe)


def snapshot(p):
    """Everything about P the program might change, as seen from here."""
    st = os.lstat(p)
    try:
        xattrs = {n: os.getxattr(p, n) for n in os.listxattr(p)}
    except OSError:
        xattrs = None
    try:
        flags = get_flags(p)
    except OSError:
        flags = None
    return {"mode": oct(st.st_mode), "owner": (st.st_uid, st.st_gid), "atime": st.st_atime_ns,
            "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns, "xattrs": xattrs, "flags": flags}


def read_only_files():
    """data/ro, granted r, and direct/lib, in a --direct directory: owned
    by root (as the program), mode 0644, old times, an xattr to remove."""
    files = [write(path("data", "ro"), "ro\n"), write(path("direct", "lib"), "lib\n")]
    for f in files:
        os.chmod(f, 0o644)
        if not user_xattrs_missing(os.path.dirname(f)):
            os.setxattr(f, "user.keep", b"kept")
        os.utime(f, (OLD, OLD))
    return files


def metadata_through_fds(mode, group, missing=None):
    if missing:
        raise Skip(missing)
    files = read_only_files()
    before = {f: snapshot(f) for f in files}
    time.sleep(0.01)        # a change now would show in ctime
    status, out, err = confined(mode, METADATA, group, *files, allow=[("r", files[0])],
                                direct=[path("direct")])
    for f in files:
        check_eq(snapshot(f), before[f], "%s as seen from outside" % f)
    check_eq((status, "done" in out), (0, True), "status: " + out + err)
    got = results(out)
    for f in files:
        name = os.path.basename(f)
        check_all(got, "EPERM", [name + " " + k for k in METADATA_KEYS[group]],
                  "%s of a file the program may only read (%s)" % (group, name))


@scenario
def owner_mode_and_times_through_a_read_only_fd(mode):
    metadata_through_fds(mode, "owner-mode-times")


@scenario
def xattrs_through_a_read_only_fd(mode):
    metadata_through_fds(mode, "xattrs", user_xattrs_missing(ohtest.tmp))


@scenario
def inode_flags_through_a_read_only_fd(mode):
    metadata_through_fds(mode, "flags", inode_flags_missing(ohtest.tmp))


WRITABLE = r'''
NEW = %d
xattrs = sys.argv[1] == "1"
ts = (ctypes.c_long * 4)(NEW, 0, NEW, 0)
fd = os.open(sys.argv[2], os.O_RDWR)
st = os.fstat(fd)
attempt("fchmod python", lambda: os.fchmod(fd, 0o600))
attempt("futimens python", lambda: os.utime(fd, (NEW, NEW)))
if xattrs:
    attempt("fsetxattr python", lambda: os.setxattr(fd, "user.x", b"python"))
attempt("fchown same python", lambda: os.fchown(fd, st.st_uid, st.st_gid))
attempt("fchown other python", lambda: os.fchown(fd, 65534, -1))
fd = os.open(sys.argv[3], os.O_RDWR)
say("fchmod raw", raw(91, fd, 0o640))
say("utimensat raw", raw(280, fd, None, ts, 0))
if xattrs:
    say("fsetxattr raw", raw(190, fd, b"user.x", b"raw", 3, 0))
say("fchown same raw", raw(93, fd, st.st_uid, st.st_gid))
say("fchown other raw", raw(93, fd, 65534, -1))
''' % NEW


@scenario
def metadata_through_an_fd_of_a_writable_file(mode):
    xattrs_missing = user_xattrs_missing(ohtest.tmp)
    if xattrs_missing:
        ohtest.diag("fsetxattr is not tried: " + xattrs_missing)
    files = [write(path("data", "rw-python"), "a\n"), write(path("data", "rw-raw"), "b\n")]
    for f in files:
        os.chmod(f, 0o644)
        os.utime(f, (OLD, OLD))
    status, out, err = confined(mode, WRITABLE, "0" if xattrs_missing else "1", *files,
                                allow=[("rw", f) for f in files])
    check_eq(status, 0, "status: " + out + err)
    got = results(out)
    ok_keys = ["fchmod python", "futimens python", "fchown same python", "fchmod raw", "utimensat raw",
               "fchown same raw"] + ([] if xattrs_missing else ["fsetxattr python", "fsetxattr raw"])
    check_all(got, "ok", ok_keys, "metadata of a file the policy lets the program write")
    check_all(got, "EPERM", ["fchown other python", "fchown other raw"], "fchown to another owner")
    for f, mode_bits, value in ((files[0], 0o600, b"python"), (files[1], 0o640, b"raw")):
        st = os.stat(f)
        check_eq((oct(st.st_mode & 0o7777), st.st_mtime_ns, (st.st_uid, st.st_gid)),
                 (oct(mode_bits), NEW * 10**9, (0, 0)), "%s: mode, mtime, owner" % f)
        if not xattrs_missing:
            check_eq(os.getxattr(f, "user.x"), value, "%s: user.x" % f)


# ---- No network when asked ---------------------------------------------------------

NETWORK = r'''
tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])
def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(("127.0.0.1", tcp_port))
    s.sendall(b"escaped")
    s.close()
attempt("tcp connect", tcp)
attempt("udp sendto", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"escaped", ("127.0.0.1", udp_port)))
attempt("inet socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
attempt("inet6 socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close())
attempt("netlink socket", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close())
fd = say("inet socket raw", raw(41, socket.AF_INET, socket.SOCK_STREAM, 0))
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
a.sendall(b"ping")
print("= socketpair", "ok" if b.recv(4) == b"ping" else "broken", flush=True)
'''


@scenario
def network_with_no_network(mode):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ohtest.defer(tcp.close)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ohtest.defer(udp.close)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    ports = (tcp.getsockname()[1], udp.getsockname()[1])

    status, out, err = confined(mode, NETWORK, *ports, extra=["--no-network"])
    check_eq(accepted(tcp), b"", "what the TCP listener got")
    check_eq(received(udp), [], "what the UDP socket got")
    check_eq(status, 0, "status: " + out + err)
    got = results(out)
    check_all(got, "ok", ["socketpair"], "AF_UNIX socketpair with --no-network")
    keys = ["tcp connect", "udp sendto", "inet socket", "inet6 socket", "netlink socket", "inet socket raw"]
    check(all(k in got for k in keys), "not every attempt was made: %r" % got)
    made = [k for k in keys if got[k] == "ok"]
    check(not made, "%s succeeded with --no-network" % made)

    # Without it the same program reaches the listener: the test can fail.
    status, out, err = confined(mode, NETWORK, *ports)
    check_eq((status, results(out).get("tcp connect")), (0, "ok"), "TCP without --no-network: " + err)
    check_eq(accepted(tcp), b"escaped", "what the TCP listener got without --no-network")
    check_eq(received(udp), [b"escaped"], "what the UDP socket got without --no-network")


# ---- A broker that dies -------------------------------------------------------------

BROKER_LOOP = r'''
import time
print("pid", os.getpid(), flush=True)
for i in range(300):
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY))
        print("open ok", flush=True)
    except OSError as e:
        print("open", errno.errorcode.get(e.errno, e.errno), flush=True)
    time.sleep(0.05)
'''


def sleeping(pid):
    """Whether PID waits in nanosleep or clock_nanosleep now."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "nanosleep" in f.read()
    except OSError:
        return False


def kill_the_broker(mode, cmd, allow, command_comm=None):
    """Starts CMD under run, SIGKILLs the broker once the command works,
    and checks run ends it and exits 125 within a few seconds, saying
    why.  Returns the command's output lines."""
    err_path = path(".death.stderr")
    with open(err_path, "wb") as err_file:
        p = subprocess.Popen(run_argv(mode, allow) + cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err_file, cwd=ohtest.tmp, env=ohtest.env({"HOME": ohtest.tmp}))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(l.decode(errors="replace") for l in p.stdout))
    reader.start()
    pids = {}

    def cleanup():
        for pid in [p.pid] + list(pids.values()):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        p.wait()
        reader.join(5)
        p.stdout.close()
    ohtest.defer(cleanup)
    deadline = time.monotonic() + 20
    while True:
        check(time.monotonic() < deadline and p.poll() is None,
              "the command did not get going: %r\n%s" % (lines, ohtest.read(err_path).decode()))
        if command_comm is None and lines and lines[0].startswith("pid "):
            pids["command"] = int(lines[0].split()[1])
        elif command_comm is not None:
            # Named so from its execve on, but working only once its
            # loader is done (a broker killed while the loader's opens
            # wait for it leaves ld.so's 127: DESIGN.md, "A broker that
            # dies"): in its sleep.
            found = [k for k, comm in children(p.pid).items() if comm == command_comm and sleeping(k)]
            if found:
                pids["command"] = found[0]
        if "command" in pids and (command_comm is not None or "open ok\n" in lines):
            break
        time.sleep(0.02)
    pids["broker"] = find_broker(p.pid, pids["command"])
    seen = len(lines)
    os.kill(pids["broker"], signal.SIGKILL)
    killed = time.monotonic()
    try:
        status = p.wait(10)
    except subprocess.TimeoutExpired:
        raise Failure("openhook run still runs 10 s after its broker was killed")
    took = time.monotonic() - killed
    err = ohtest.read(err_path).decode(errors="replace")
    no_sanitizer_report(err)
    ohtest.diag("run exited %.2f s after the broker was killed" % took)
    check(took < 5, "openhook run took %.1f s to notice" % took)
    check_eq(status, 125, "run's status once its broker died (stderr: %s)" % err)
    check("broker" in err and any(w in err for w in ("SIGKILL", "signal 9", "killed", "Killed")),
          "stderr does not say the broker died and how: %r" % err)
    gone = ohtest.settle(lambda: alive(pids["command"]), False, timeout=2)
    check(not gone, "the command outlived its broker")
    reader.join(5)
    return lines[seen:]


@scenario
def broker_killed_while_the_command_opens_files(mode):
    f = write(path("data", "f"), "f\n")
    after = kill_the_broker(mode, script(BROKER_LOOP) + [f], [("r", f)])
    failures = [l.split()[1] for l in after if l.startswith("open ") and l != "open ok\n"]
    ohtest.diag("opens after the broker died: %r" % after[:5])
    if mode == "preload":
        check(all(e == "EIO" for e in failures), "opens after the broker died failed with %r" % failures)


@scenario
def broker_killed_while_the_command_sleeps(mode):
    kill_the_broker(mode, ["/bin/sleep", "60"], [], command_comm="sleep")


# ---- Channels that already hold --------------------------------------------------------

PTRACE = HANDSHAKE + r'''
say("PTRACE_ATTACH libc", lib(libc.ptrace, ctypes.c_long(16), ctypes.c_long(broker), None, None))
say("PTRACE_ATTACH raw", raw(101, 16, broker, 0, 0))
say("PTRACE_SEIZE raw", raw(101, 0x4206, broker, 0, 0))
''' + HANDSHAKE_END


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return None


@scenario
def ptrace_of_the_broker(mode):
    run = Handshake(mode, PTRACE)
    tracer = tracer_of(run.broker)
    status, out, err = run.finish()
    check_eq(tracer, 0, "the broker's TracerPid while the program ran")
    got = results(out)
    attached = [k for k in ("PTRACE_ATTACH libc", "PTRACE_ATTACH raw", "PTRACE_SEIZE raw") if got.get(k) != "EPERM"]
    check(not attached, "ptrace of the broker answered %r" % got)
    check_eq(status, 0, "status: " + err)


PROC_OF_THE_BROKER = HANDSHAKE + r'''
secret = sys.argv[1]
def show(what, p):
    flags = os.O_RDONLY | os.O_NONBLOCK      # a pipe among the broker's fds must not block
    for how in ("python", "raw"):
        if how == "python":
            try:
                fd = os.open(p, flags)
            except OSError as e:
                fd = -e.errno
        else:
            fd = raw(257, -100, os.fsencode(p), flags, 0)
        if say("%s %s" % (what, how), fd) >= 0:
            try:
                print("content", os.read(fd, 4096).decode(errors="replace"), flush=True)
            except OSError:
                pass
            os.close(fd)
show("root", "/proc/%d/root%s" % (broker, secret))
show("cwd", "/proc/%d/cwd/%s" % (broker, os.path.basename(secret)))
try:
    fds = [int(n) for n in os.listdir("/proc/%d/fd" % broker)]
except OSError:
    fds = range(32)
for n in fds:
    show("fd", "/proc/%d/fd/%d" % (broker, n))
    show("fd-beneath", "/proc/%d/fd/%d%s" % (broker, n, secret))
''' + HANDSHAKE_END


def secret_file():
    content = "secret-" + secrets.token_hex(16)
    return write(path("secret"), content + "\n"), content


@scenario
def proc_root_cwd_and_fds_of_the_broker(mode):
    secret, content = secret_file()
    near = write(path("allowed"), "allowed\n")
    run = Handshake(mode, PROC_OF_THE_BROKER, secret, allow=[("r", near), ("rwc", path("out") + "/")])
    status, out, err = run.finish()
    check(content not in out, "the program read the secret through the broker's /proc:\n" + out)
    got = results(out)
    check(got.get("root python") not in (None, "ok") and got.get("root raw") not in (None, "ok"),
          "/proc/BROKER/root: %r" % got)
    check_eq(status, 0, "status: " + err)


IO_URING = HANDSHAKE + r'''
params = ctypes.create_string_buffer(120)
fd = say("io_uring_setup", raw(425, 8, params))
''' + HANDSHAKE_END


@scenario
def io_uring(mode):
    run = Handshake(mode, IO_URING)
    links = []
    for n in os.listdir("/proc/%d/fd" % run.command):
        try:
            links.append(os.readlink("/proc/%d/fd/%s" % (run.command, n)))
        except OSError:
            pass
    status, out, err = run.finish()
    check(not any("io_uring" in l for l in links), "the program holds an io_uring: %r" % links)
    check_eq(results(out).get("io_uring_setup"), "ENOSYS", "io_uring_setup")
    check_eq(status, 0, "status: " + err)


OPEN_BY_HANDLE = r'''
handle = ctypes.create_string_buffer(bytes.fromhex(sys.argv[1]))
for how, fd in (("libc", lib(libc.open_by_handle_at, -100, handle, os.O_RDONLY)),
                ("raw", raw(304, -100, handle, os.O_RDONLY))):
    if say(how, fd) >= 0:
        print("content", os.read(fd, 4096).decode(errors="replace"), flush=True)
'''


def file_handle(p):
    """name_to_handle_at(P) as bytes: struct file_handle."""
    buf = ctypes.create_string_buffer(struct.pack("=Ii", 128, 0) + bytes(128))
    mount_id = ctypes.c_int()
    if libc.name_to_handle_at(-100, os.fsencode(p), buf, ctypes.byref(mount_id), 0) < 0:
        raise Skip("name_to_handle_at: %s" % os.strerror(ctypes.get_errno()))
    size = struct.unpack_from("=I", buf.raw)[0]
    return buf.raw[:8 + size]


@scenario
def open_by_handle_at(mode):
    secret, content = secret_file()
    handle = file_handle(secret)
    status, out, err = confined(mode, OPEN_BY_HANDLE, handle.hex())
    check(content not in out, "the program read the secret by its handle:\n" + out)
    check_all(results(out), "EPERM", ["libc", "raw"], "open_by_handle_at")
    check_eq(status, 0, "status: " + err)


if __name__ == "__main__":
    raise SystemExit(ohtest.main())

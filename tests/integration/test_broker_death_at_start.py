#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A broker that dies while `openhook run` starts its command: run must
never hang.  Each scenario starts `openhook run -- /bin/sleep 30` many
times and SIGKILLs the broker (run's child that leads its own process
group) at varied moments of the start-up: after a delay, or right when
the command waits in its first notified call for the broker to answer
(its loader's; the window where a command holding its own copy of the
seccomp listener waited forever), or after SIGSTOPping it for a while.  Each time run must
exit within a hang bound with status 125 and say that the broker died
(or with the command's own failure, for a command that executed and
failed first), and no process of the tree may be left behind, running or stopped.

Not a speed test: the bound is for hangs (10 s), on a machine that may be
busy."""

import ctypes
import os
import platform
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ohtest  # noqa: E402
from ohtest import BIN, Failure, Skip, case, check, path  # noqa: E402

HANG_BOUND = 10                 # seconds run may take to end once its broker is killed
ROUNDS = int(os.environ.get("OPENHOOK_TEST_DEATH_ROUNDS", "36"))
PR_SET_CHILD_SUBREAPER = 36
# The loader's first notified calls: access (every mode) and openat
# (seccomp mode); and sleep's own wait, past them.
NOTIFIED = {"x86_64": {"21", "257"}, "aarch64": {"48", "56"}}.get(platform.machine())
SLEEPING = {"x86_64": {"35", "230"}, "aarch64": {"101", "115"}}.get(platform.machine(), set())
libc = ctypes.CDLL(None, use_errno=True)


def proc_stat(pid):
    """(state, ppid, pgrp) of PID, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2])


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def syscall_of(pid):
    """The number of the call PID waits in, as a string ("running" if
    none), or None once it is gone."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split(" ", 1)[0]
    except OSError:
        return None


def requirements():
    if not os.path.exists("/proc/self/task/%d/children" % os.getpid()):
        raise Skip("this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): "
                   "the broker cannot be found")
    p = subprocess.run([BIN, "run", "--", "/bin/true"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=ohtest.env(), timeout=60)
    if p.returncode != 0 and "Landlock" in p.stderr:
        raise Skip("openhook run cannot start here: " + p.stderr.strip())
    check(p.returncode == 0, "openhook run -- /bin/true: %d %s" % (p.returncode, p.stderr))
    check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "prctl(PR_SET_CHILD_SUBREAPER)")
    ohtest.defer(libc.prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


class Attempt:
    def __init__(self, mode, n):
        self.err_path = path(".run-%s-%d.stderr" % (mode, n))
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([BIN, "run", "--mode", mode, "--", "/bin/sleep", "30"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, env=ohtest.env())
        self.seen = set()

    def broker(self, timeout=20):
        """Run's child that leads its own process group (the broker makes
        itself one first thing); None if run ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for pid in children_of(self.proc.pid):
                self.seen.add(pid)
                st = proc_stat(pid)
                if st and st[2] == pid:
                    return pid
        return None

    def command(self, broker, timeout=5):
        """Run's other child: the command's process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for pid in children_of(self.proc.pid):
                self.seen.add(pid)
                if pid != broker:
                    return pid
        return None

    def stderr(self):
        return ohtest.read(self.err_path).decode(errors="replace")

    def end(self):
        """Waits for run within the hang bound; returns its status or None
        for a hang (then ends the whole tree)."""
        try:
            return self.proc.wait(HANG_BOUND)
        except subprocess.TimeoutExpired:
            for pid in [self.proc.pid] + sorted(self.seen):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
            return None


def leftovers(timeout=5):
    """Reaps what the tree left to us (we are a subreaper) until nothing is
    left or TIMEOUT passes; returns {pid: state} of what is left."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return {}
        left = {pid: (proc_stat(pid) or ("gone",))[0] for pid in ohtest.own_children()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def ended_as_it_should(status, err):
    """125, saying the broker died; or the command's own failure, when the
    broker died once it had answered execve and the command (its loader)
    failed on what it could no longer reach before run saw the broker
    gone (then status 127 and ld.so's message, as for a broker that dies
    later)."""
    if status == 125:
        return "broker" in err
    return status != 0


def kill_now(broker):
    os.kill(broker, signal.SIGKILL)


def stress(mode, strategies):
    requirements()
    hangs, bad = [], []
    for n in range(ROUNDS):
        strategy = strategies[n % len(strategies)]
        a = Attempt(mode, n)
        broker = a.broker()
        check(broker is not None, "no broker found; run exited %s:\n%s" % (a.proc.poll(), a.stderr()))
        what = strategy(a, broker, n)
        status = a.end()
        err = a.stderr()
        for mark in ohtest.SANITIZER_MARKS:
            check(mark not in err, "sanitizer report:\n" + err)
        left = leftovers()
        if status is None:
            hangs.append(what)
        elif not ended_as_it_should(status, err):
            bad.append("%s: status %s, stderr %r" % (what, status, err))
        if left:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            leftovers()
            bad.append("%s: left behind %r (status %s)" % (what, left, status))
    ohtest.diag("%s: %d attempts, %d hung" % (mode, ROUNDS, len(hangs)))
    if hangs:
        raise Failure("openhook run still ran %d s after its broker was killed, %d of %d times: %r" % (
            HANG_BOUND, len(hangs), ROUNDS, hangs))
    if bad:
        raise Failure("%d of %d attempts went wrong:\n%s" % (len(bad), ROUNDS, "\n".join(bad)))


# Moments from the broker's start: it confines itself meanwhile, run
# prepares and spawns the command, which restricts itself, hands over its
# listener and executes.  Spread over the whole start-up.
DELAYS_MS = [0, 0.5, 1, 2, 3, 4, 6, 8, 11, 15, 20]


def after_delay(a, broker, n):
    ms = DELAYS_MS[(n // 2) % len(DELAYS_MS)]
    time.sleep(ms / 1000)
    kill_now(broker)
    return "killed %.1f ms after it started" % ms


def when_the_command_waits_in_a_notified_call(a, broker, n):
    """The narrow window: the command's first notified call (its loader's),
    not yet answered."""
    command = a.command(broker)
    deadline = time.monotonic() + 2
    while NOTIFIED and command and time.monotonic() < deadline:
        nr = syscall_of(command)
        if nr in NOTIFIED:
            kill_now(broker)
            return "killed while the command waited in a notified call"
        if nr is None or nr in SLEEPING:
            break
    kill_now(broker)
    return "killed once the command was spawned (no notified call seen)"


def stopped_then_killed(a, broker, n):
    ms = DELAYS_MS[(n // 2) % len(DELAYS_MS)]
    time.sleep(ms / 1000)
    os.kill(broker, signal.SIGSTOP)
    time.sleep(0.1)
    kill_now(broker)
    return "stopped %.1f ms after it started, killed 100 ms later" % ms


@case
def broker_killed_during_start_up_seccomp():
    stress("seccomp", [after_delay, when_the_command_waits_in_a_notified_call])


@case
def broker_killed_during_start_up_preload():
    stress("preload", [after_delay, when_the_command_waits_in_a_notified_call])


@case
def broker_stopped_during_start_up_then_killed():
    for mode in ("seccomp", "preload"):
        stress(mode, [stopped_then_killed])


if __name__ == "__main__":
    sys.exit(ohtest.main())

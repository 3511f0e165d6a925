#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`openhook run`: the command's exit status, signals, Landlock around the
command, the broker's lifetime, and --learn."""

import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import ohtest
from ohtest import BIN, case, check, check_eq, path, read, run_openhook, write

PYTHON = "/usr/bin/python3"

# Runs inside the confined command: asks the broker for a file over the
# inherited OPENHOOK_FD (preload mode only), speaking the wire protocol
# itself (no shim needed).
BROKER_OPEN = r'''
import os, socket, struct
def broker_open(p, flags=os.O_RDONLY, mode=0):
    s = socket.socket(fileno=os.dup(int(os.environ["OPENHOOK_FD"])))
    name = os.fsencode(p)
    payload = struct.pack("=IIH", flags, mode, len(name)) + name
    s.send(struct.pack("=II", 8 + len(payload), 1) + payload)
    msg, fds, _, _ = socket.recv_fds(s, 12, 1)
    s.close()
    size, command, result = struct.unpack("=IIi", msg)
    if result < 0:
        raise OSError(-result, os.strerror(-result), p)
    return fds[0]
'''

RAW_OPEN_C = r'''
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
/* Opens argv[1] with the raw syscall, out of any LD_PRELOAD shim's reach. */
int main(int argc, char **argv)
{
        long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                printf("%s\n", strerror(errno));
                return 1;
        }
        printf("opened\n");
        return 0;
}
'''

# Opens argv[2] with the raw syscall and the shim's mark (lib/open_mark.h)
# for reading (argv[1] "r") or writing ("w"), then reads or writes it.
FORGED_MARK_C = r'''
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
        int w = argv[1][0] == 'w';
        long fd = syscall(SYS_openat, AT_FDCWD, argv[2], (w ? O_WRONLY : O_RDONLY) | O_CLOEXEC | 0x40000000);
        char buf[64] = "";
        if (fd < 0) {
                printf("%s\n", strerror(errno));
                return 1;
        }
        if (w ? write(fd, "forged\n", 7) != 7 : read(fd, buf, sizeof buf - 1) < 0)
                return 2;
        printf("opened %s\n", buf);
        return 0;
}
'''

# Makes one system call fail, then executes a program: failsys NAME ARG
# ERRNO VALUES PROGRAM [ARGS...] fails NAME with ERRNO where its argument
# ARG (low 32 bits) is one of VALUES (hex, comma-separated), or always
# where ARG is -1.  What the kernel, or openhook's own start, is made to
# lack in the scenarios below.
FAIL_SYSCALL_C = r'''
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
static const struct { const char *name; long nr; } calls[] = {
        { "clone", SYS_clone }, { "ioctl", SYS_ioctl }, { "landlock_create_ruleset", SYS_landlock_create_ruleset },
};
int main(int argc, char **argv)
{
        struct sock_filter f[64];
        unsigned long values[16];
        unsigned int n = 0, k = 0;
        long nr = -1;

        if (argc < 6)
                return 97;
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
                if (strcmp(argv[1], calls[i].name) == 0)
                        nr = calls[i].nr;
        int arg = atoi(argv[2]), error = atoi(argv[3]);
        for (char *p = argv[4]; arg >= 0 && *p && k < 16; p++) {
                values[k++] = strtoul(p, &p, 16);
                if (!*p)
                        break;
        }
        if (nr < 0 || arg > 5)
                return 97;
        /* Not NR: allow.  ARG -1: fail.  Else fail on one of the values. */
        f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, arg < 0 ? 1 : k + 1);
        if (arg >= 0) {
                size_t low = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0;
                f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                      offsetof(struct seccomp_data, args[0]) + 8 * arg + low);
                for (unsigned int i = 0; i < k; i++)
                        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, values[i], k - i, 0);
        } else
                f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA));
        struct sock_fprog prog = { n, f };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                perror("seccomp");
                return 99;
        }
        execv(argv[5], argv + 5);
        perror("execv");
        return 98;
}
'''


def fail_syscall(name, arg, error, values=()):
    """The argv prefix that runs a program with system call NAME failing
    (FAIL_SYSCALL_C above)."""
    return [compile_c("failsys", FAIL_SYSCALL_C), name, str(arg), str(error),
            ",".join("%x" % v for v in values) or "0"]


# The wrappers below, by what they make fail:
# - Landlock unavailable: landlock_create_ruleset() fails with ENOSYS, as
#   on a kernel built without it.
NO_LANDLOCK = ("landlock_create_ruleset", -1, errno.ENOSYS)
# - no seccomp fd injection, as far as a program can tell:
#   SECCOMP_IOCTL_NOTIF_ADDFD fails with EINVAL, as the SEND flag does
#   before Linux 5.14.
SECCOMP_IOCTL_NOTIF_ADDFD = 0x40182103
NO_ADDFD = ("ioctl", 1, errno.EINVAL, (SECCOMP_IOCTL_NOTIF_ADDFD,))

# Both modes preload the shim; they differ in what becomes of a raw
# fchmodat, which libc's chmod() never reaches: preload mode's guard refuses
# it (EPERM), the seccomp supervisor asks the policy (ENOENT here: the path
# does not exist; EACCES where it does).
WHICH_MODE_PY = """
import ctypes, errno, platform
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": 268, "aarch64": 53}[platform.machine()]
libc.syscall(nr, -100, b"/openhook-which-mode", 0o600)
print({errno.EPERM: "preload", errno.EACCES: "seccomp", errno.ENOENT: "seccomp"}.get(ctypes.get_errno(), "unknown"))
"""
WHICH_MODE = ["/usr/bin/python3", "-I", "-c", WHICH_MODE_PY]     # -I: no cwd to read


def run(*args, timeout=30):
    return run_openhook("run", *args, timeout=timeout)


def compile_c(name, source):
    cc = shutil.which("cc") or shutil.which("gcc")
    check(cc is not None, "no C compiler to build the %s helper" % name)
    src = write(path(name + ".c"), source)
    exe = path(name)
    subprocess.run([cc, "-O1", "-o", exe, src], check=True)
    return exe


def py(code):
    return [PYTHON, "-c", BROKER_OPEN + code]


# ---- Exit status ----------------------------------------------------------

@case
def exit_status_of_the_command_is_passed_through():
    check_eq(run("--", "true")[0], 0, "true")
    check_eq(run("--", "/bin/sh", "-c", "exit 3")[0], 3, "exit 3")


@case
def command_killed_by_a_signal_gives_128_plus_the_signal():
    status, _, err = run("--", "/bin/sh", "-c", "kill -KILL $$")
    check_eq(status, 128 + signal.SIGKILL, "status (stderr: %s)" % err)


@case
def missing_command_exits_127():
    status, _, err = run("--", "openhook-no-such-command")
    check_eq(status, 127, "status")
    check("openhook-no-such-command" in err, "stderr names the command: %r" % err)
    check_eq(run("--", path("nothing-here"))[0], 127, "missing path")


@case
def command_that_is_not_executable_exits_126():
    script = write(path("not-executable"), "#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    # The broker takes the listener of a process that failed at execve and
    # ends without a word of its own (it had none to take, some of the
    # time, when run did not wait for it).
    for _ in range(5):
        status, _, err = run("--", script)
        check_eq(status, 126, "status (stderr: %s)" % err)
        check_eq(ohtest.without_sanitizer_warnings(err).strip().splitlines(),
                 ["openhook run: %s: Permission denied" % script], "stderr")


@case
def bad_usage_exits_125():
    for args in (["--no-such-option", "--", "true"], [], ["--mode", "sideways", "--", "true"],
                 ["--direct", "relative/path", "--", "true"],
                 ["--learn-collapse", "--", "true"],
                 ["--learn", path("p"), "--allow", "r:/tmp/", "--", "true"]):
        status, _, err = run(*args)
        check_eq(status, 125, "status of run %s" % args)
        check(err.strip() != "", "no message for run %s" % args)


# ---- Signals ----------------------------------------------------------------

@case
def sigterm_sent_to_run_reaches_the_command():
    p = subprocess.Popen([BIN, "run", "--", "/bin/sh", "-c",
                          "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=ohtest.env())
    try:
        check_eq(p.stdout.readline(), b"ready\n", "command started")
        p.send_signal(signal.SIGTERM)
        check_eq(p.wait(10), 7, "status: the command's TERM trap ran")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()


# ---- Landlock ----------------------------------------------------------------

def secret():
    return write(path("secret"), b"top secret\n")


@case
def raw_syscall_open_outside_the_direct_set_is_denied_in_preload_mode():
    exe = compile_c("rawopen", RAW_OPEN_C)
    s = secret()
    status, out, err = run("--mode", "preload", "--", exe, s)
    check_eq((status, out), (1, "Permission denied\n"), "raw openat under run (stderr: %s)" % err)
    # Allowing it in the policy does not let the command open it itself...
    status, out, _ = run("--mode", "preload", "--allow", "r:" + s, "--", exe, s)
    check_eq((status, out), (1, "Permission denied\n"), "raw openat with the file allowed")
    # ...and the same program is not refused when Landlock is off.
    status, out, _ = run("--mode", "preload", "--unconfined", "--", exe, s)
    check_eq((status, out), (0, "opened\n"), "raw openat with --unconfined")


@case
def python_open_of_a_file_outside_the_policy_fails():
    s = secret()
    code = ("import os, sys\n"
            "try:\n    os.open(%r, os.O_RDONLY)\nexcept PermissionError:\n    sys.exit(13)\n"
            "sys.exit(0)\n" % s)
    status, _, err = run("--", PYTHON, "-c", code)
    check_eq(status, 13, "status (stderr: %s)" % err)
    check("--allow r:" + s in err, "the denial line names the --allow that would permit it: %r" % err)


@case
def python_open_of_an_allowed_file_goes_through_the_broker():
    s = secret()
    code = "import sys\nsys.stdout.write(open(%r).read())\n" % s
    status, out, err = run("--allow", "r:" + s, "--", PYTHON, "-c", code)
    check_eq((status, out), (0, "top secret\n"), "status and output (stderr: %s)" % err)


@case
def fd_received_from_the_broker_works_under_landlock():
    s = secret()
    code = "import os\nfd = broker_open(%r)\nos.write(1, os.read(fd, 100))\n" % s
    status, out, err = run("--mode", "preload", "--allow", "r:" + s, "--", *py(code))
    check_eq((status, out), (0, "top secret\n"), "status and output (stderr: %s)" % err)


@case
def landlock_missing_needs_unconfined():
    wrapper = fail_syscall(*NO_LANDLOCK)
    p = subprocess.run([*wrapper, BIN, "run", "--", "true"], capture_output=True, env=ohtest.env())
    check_eq(p.returncode, 125, "status without Landlock")
    check(b"--unconfined" in p.stderr, "the message points at --unconfined: %r" % p.stderr)
    p = subprocess.run([*wrapper, BIN, "run", "--unconfined", "--", "true"],
                       capture_output=True, env=ohtest.env())
    check_eq(p.returncode, 0, "status with --unconfined (stderr: %r)" % p.stderr)


@case
def direct_adds_a_path_the_command_reads_itself():
    exe = compile_c("rawopen", RAW_OPEN_C)
    s = secret()
    status, out, err = run("--direct", path(), "--", exe, s)
    check_eq((status, out), (0, "opened\n"), "raw openat beneath --direct (stderr: %s)" % err)
    status, out, _ = run("--direct", path("elsewhere"), "--", exe, s)
    check_eq((status, out), (1, "Permission denied\n"), "raw openat beside --direct")


@case
def command_reads_the_numa_topology_itself():
    """glib and QEMU read /sys/devices/system/node at start-up: it is in
    the default direct set."""
    node = "/sys/devices/system/node/online"
    if not os.path.exists(node):
        raise ohtest.Skip("%s does not exist on this system" % node)
    exe = compile_c("rawopen", RAW_OPEN_C)
    status, out, err = run("--", exe, node)
    check_eq((status, out), (0, "opened\n"), "raw openat of %s (stderr: %s)" % (node, err))
    status, out, _ = run("--no-default-direct", "--direct", "/usr", "--direct", "/lib",
                         "--direct", "/lib64", "--direct", "/etc/ld.so.cache", "--", exe, node)
    check_eq((status, out), (1, "Permission denied\n"), "the same without the default direct set")


@case
def seccomp_mode_brokers_raw_syscalls_without_a_preload():
    exe = compile_c("rawopen", RAW_OPEN_C)
    s = secret()
    status, out, err = run("--mode", "seccomp", "--allow", "r:" + s, "--", exe, s)
    check_eq((status, out), (0, "opened\n"), "allowed raw openat (stderr: %s)" % err)
    status, out, err = run("--mode", "seccomp", "--", exe, s)
    check_eq((status, out), (1, "Permission denied\n"), "raw openat outside the policy")
    check("--allow r:" + s in err, "the denial line names the --allow: %r" % err)
    show_env = ["/bin/sh", "-c", 'echo "shim=${LD_PRELOAD:+set} fd=${OPENHOOK_FD:+set}"']
    status, out, _ = run("--mode", "seccomp", "--", *show_env)
    check_eq((status, out), (0, "shim=set fd=set\n"), "LD_PRELOAD and OPENHOOK_FD in seccomp mode")
    status, out, _ = run("--mode", "seccomp", "--no-shim", "--", *show_env)
    check_eq((status, out), (0, "shim= fd=\n"), "LD_PRELOAD and OPENHOOK_FD with --no-shim")
    status, out, err = run("--mode", "seccomp", "--no-shim", "--allow", "r:" + s, "--", exe, s)
    check_eq((status, out), (0, "opened\n"), "allowed raw openat with --no-shim (stderr: %s)" % err)


# ---- The default mode --------------------------------------------------------

@case
def seccomp_mode_is_the_default():
    status, out, err = run("--", *WHICH_MODE)
    check_eq((status, out), (0, "seccomp\n"), "mode without --mode")
    check("using --mode preload" not in err, "no fallback notice: %r" % err)
    status, out, err = run("--mode", "preload", "--", *WHICH_MODE)
    check_eq((status, out), (0, "preload\n"), "with --mode preload (stderr: %s)" % err)


@case
def kernel_without_seccomp_fd_injection_falls_back_to_preload_mode():
    wrapper = fail_syscall(*NO_ADDFD)
    p = subprocess.run([*wrapper, BIN, "run", "--", *WHICH_MODE], capture_output=True, env=ohtest.env())
    check_eq((p.returncode, p.stdout), (0, b"preload\n"), "status and mode (stderr: %r)" % p.stderr)
    notice = ohtest.without_sanitizer_warnings(p.stderr.decode()).splitlines()
    check(len(notice) == 1 and "using --mode preload" in notice[0], "one line of notice: %r" % notice)
    # Asked for by name, seccomp mode fails instead of changing.
    p = subprocess.run([*wrapper, BIN, "run", "--mode", "seccomp", "--", "true"],
                       capture_output=True, env=ohtest.env())
    check_eq(p.returncode, 125, "status with --mode seccomp (stderr: %r)" % p.stderr)
    check(b"--mode seccomp is not available" in p.stderr, "the message says why: %r" % p.stderr)


CLONE_VM, CLONE_PARENT, SIGCHLD = 0x100, 0x8000, 17
# The abstract connector's go-between (abstract_connector.c), and the
# connector: in run's memory, or (sanitized builds) in a copy of it.
GO_BETWEEN_CLONE = (CLONE_VM | CLONE_PARENT | SIGCHLD,)
CONNECTOR_CLONES = (CLONE_VM | SIGCHLD, SIGCHLD)

ABSTRACT_CONNECT_PY = """
import socket
server = socket.socket(socket.AF_UNIX)
server.bind(b"\\0openhook-test-no-connector")
server.listen()
try:
    socket.socket(socket.AF_UNIX).connect(server.getsockname())
    print("connected")
except OSError as e:
    print(e.strerror)
"""


def need_abstract_connector():
    abi = ohtest.landlock_abi()
    if abi < 6:
        raise ohtest.Skip("no abstract connector without Landlock ABI 6 (this kernel: %d)" % abi)


def failing_clone(flags):
    """The wrapper that fails clone(2) with FLAGS: its first argument but
    on s390, whose clone takes the stack first."""
    return fail_syscall("clone", 1 if os.uname().machine.startswith("s390") else 0, errno.EAGAIN, flags)


@case
def abstract_connector_that_cannot_start_fails_run_and_says_so():
    need_abstract_connector()
    p = subprocess.run([*failing_clone(GO_BETWEEN_CLONE), BIN, "run", "--", "/bin/true"], stdin=subprocess.DEVNULL,
                       capture_output=True, env=ohtest.env(), timeout=60)
    err = ohtest.without_sanitizer_warnings(p.stderr.decode()).splitlines()
    check_eq(p.returncode, 125, "status (stderr: %r)" % p.stderr)
    check_eq(err, ["openhook run: cannot start the abstract connector: Resource temporarily unavailable"],
             "what run says")


@case
def abstract_connector_lost_at_start_is_reported_and_refuses_abstract_sockets():
    need_abstract_connector()
    p = subprocess.run([*failing_clone(CONNECTOR_CLONES), BIN, "run", "--", PYTHON, "-I", "-c", ABSTRACT_CONNECT_PY],
                       stdin=subprocess.DEVNULL, capture_output=True, env=ohtest.env(), timeout=60)
    err = p.stderr.decode()
    check_eq((p.returncode, p.stdout), (0, b"Operation not permitted\n"),
             "status, and what the program's connect got (stderr: %r)" % err)
    check("openhook run: the abstract connector did not start" in err, "run says why: %r" % err)
    check("the abstract connector is not answering" in err, "the denial line says why: %r" % err)


PARENT_THEN_WAIT_PY = "import os, sys; print(os.getppid(), flush=True); sys.stdin.readline()"


@case
def run_keeps_no_capability_once_the_command_runs():
    """The broker shares run's Landlock floor and keeps CAP_SYS_PTRACE: run
    must have nothing a broker taken over could gain from its memory.
    Judged from outside, in /proc, while the command waits."""
    if os.geteuid() != 0:
        raise ohtest.Skip("run has no capabilities to drop: not root")
    for mode in ("preload",) if ohtest.seccomp_mode_missing() else ("seccomp", "preload"):
        p = subprocess.Popen([BIN, "run", *ohtest.mode_args(mode), "--", PYTHON, "-I", "-c", PARENT_THEN_WAIT_PY],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=ohtest.env())
        try:
            run_pid = int(p.stdout.readline())
            with open("/proc/%d/status" % run_pid) as f:
                caps = {l.split(":")[0]: int(l.split()[1], 16) for l in f if l.startswith("Cap")}
            p.stdin.write(b"\n")
            p.stdin.flush()
            check_eq(p.wait(30), 0, "status in %s mode" % mode)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check_eq((caps["CapEff"], caps["CapPrm"], caps["CapInh"]), (0, 0, 0),
                 "run's capabilities while the command runs, %s mode" % mode)


@case
def unconfined_seccomp_mode_starts_a_dynamic_program_under_the_policy():
    """Without Landlock the supervisor lets the kernel open nothing: it
    opens the loader's libraries itself, under the direct set turned
    into allow rules, and the rest as the policy says."""
    s = secret()
    other = write(path("other"), b"not allowed\n")
    status, out, err = run("--unconfined", "--mode", "seccomp", "--allow", "r:" + s, "--", "/bin/cat", s)
    check_eq((status, out), (0, "top secret\n"), "cat of the allowed file (stderr: %s)" % err)
    status, out, err = run("--unconfined", "--mode", "seccomp", "--allow", "r:" + s, "--", "/bin/cat", other)
    check_eq((status, out), (1, ""), "cat of a file outside the policy")
    check("--allow r:" + other in err, "the denial line names the --allow: %r" % err)


# ---- --direct-reads -----------------------------------------------------------

def logged_paths(log):
    with open(log, "rb") as f:
        return [json.loads(line)["path"] for line in f.read().splitlines()]


@case
def a_forged_open_mark_reaches_nothing_beyond_the_direct_set():
    """The mark lets a read-only open past the seccomp filter to the kernel:
    Landlock then holds it to the direct set, whatever the policy says, and
    any other open with the mark is still the policy's.  Judged on disk."""
    exe = compile_c("forgedmark", FORGED_MARK_C)
    secret = write(path("secret"), b"secret\n")
    allowed = write(path("data", "a.txt"), b"alpha\n")
    log = path("mark.log")
    status, out, err = run("--mode", "seccomp", "--log", log, "--direct", exe, "--allow", "r:" + path("data") + "/",
                           "--allow", "rw:" + path("data", "w.txt"), "--", exe, "r", secret)
    check_eq((status, out), (1, "Permission denied\n"), "a marked read outside the policy and the direct set")
    status, out, err = run("--mode", "seccomp", "--direct", exe, "--allow", "r:" + path("data") + "/",
                           "--", exe, "r", allowed)
    check_eq((status, out), (1, "Permission denied\n"), "a marked read the policy allows is the kernel's: refused")
    target = write(path("data", "w.txt"), b"before\n")
    status, out, err = run("--mode", "seccomp", "--direct", exe, "--allow", "rw:" + target, "--", exe, "w", target)
    check_eq((status, out), (0, "opened \n"), "a marked write goes to the broker, which allows it")
    check_eq(read(target), b"forged\n", "what the allowed write wrote")
    status, out, err = run("--mode", "seccomp", "--direct", exe, "--allow", "r:" + target, "--", exe, "w", target)
    check_eq(status, 1, "a marked write the policy refuses: " + out + err)
    check_eq(read(target), b"forged\n", "the refused write changed nothing")
    check_eq(read(secret), b"secret\n", "the secret")


@case
def direct_reads_read_an_allowed_tree_without_the_broker_and_write_through_it():
    data = write(path("data", "sub", "a.txt"), b"alpha\n")
    os.mkdir(path("out"))
    out_file = path("out", "w.txt")
    script = 'cat "$1" && echo written > "$2"'
    for mode in ("seccomp", "preload"):
        for direct_reads in (True, False):
            log = path("%s-%s.log" % (mode, direct_reads))
            args = ["--mode", mode, "--log", log, "--allow", "r:" + path("data") + "/",
                    "--allow", "rwc:" + path("out") + "/"] + (["--direct-reads"] if direct_reads else [])
            status, out, err = run(*args, "--", "/bin/sh", "-c", script, "sh", data, out_file)
            what = "%s mode%s" % (mode, " with --direct-reads" if direct_reads else "")
            check_eq((status, out), (0, "alpha\n"), "%s: status and output (stderr: %s)" % (what, err))
            check_eq(read(out_file), b"written\n", what + ": the write")
            logged = logged_paths(log)
            check(out_file in logged, "%s: the write is not in the log: %r" % (what, logged))
            # In both modes the shim opens it itself (in seccomp mode
            # marked, past the filter: lib/open_mark.h), unlogged.
            brokered = not direct_reads
            check_eq(data in logged, brokered, what + ": the read is in the log")
            os.unlink(out_file)
    # The kernel itself opens it: even a raw syscall, out of the shim's reach.
    exe = compile_c("rawopen", RAW_OPEN_C)
    for direct_reads in ([], ["--direct-reads"]):
        status, out, err = run("--mode", "preload", "--allow", "r:" + path("data") + "/", *direct_reads,
                               "--", exe, data)
        want = (0, "opened\n") if direct_reads else (1, "Permission denied\n")
        check_eq((status, out), want, "raw openat in preload mode %s(stderr: %s)" % (direct_reads, err))


@case
def direct_reads_keep_a_tree_with_a_deny_inside_brokered():
    data = write(path("data", "a.txt"), b"alpha\n")
    private = write(path("data", "private", "key"), b"key\n")
    for mode in ("seccomp", "preload"):
        log = path("%s.log" % mode)
        status, out, err = run("--mode", mode, "--direct-reads", "--log", log,
                               "--allow", "r:" + path("data") + "/", "--deny", path("data", "private") + "/",
                               "--", "/bin/cat", data, private)
        check_eq((status, out), (1, "alpha\n"), "%s mode: status and output (stderr: %s)" % (mode, err))
        check("Permission denied" in err, "%s mode: cat says why: %r" % (mode, err))
        logged = logged_paths(log)
        check(data in logged and private in logged, "%s mode: both opens brokered: %r" % (mode, logged))


@case
def direct_reads_refuse_a_symlink_out_of_the_tree():
    """Landlock holds the kernel's own opens to the tree, as the policy
    holds the broker's: a link inside pointing outside reads nothing."""
    s = secret()
    os.mkdir(path("data"))
    os.symlink(s, path("data", "link"))
    for mode in ("seccomp", "preload"):
        status, out, err = run("--mode", mode, "--direct-reads", "--allow", "r:" + path("data") + "/",
                               "--", "/bin/cat", path("data", "link"))
        check_eq((status, out), (1, ""), "%s mode (stderr: %s)" % (mode, err))


@case
def direct_reads_with_learn_or_unconfined_is_refused():
    for args in (["--learn", path("p")], ["--unconfined", "--allow", "r:/tmp/"]):
        status, _, err = run("--direct-reads", *args, "--", "true")
        check_eq(status, 125, "status of run --direct-reads %s" % args)
        check("--direct-reads" in err, "the message names --direct-reads: %r" % err)
    check(not os.path.exists(path("p")), "--learn wrote a policy anyway")


# ---- The broker's lifetime ----------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36


def children():
    """Our child processes (orphans reparent to us: we are a subreaper)."""
    return ohtest.own_children()


def reap_children(timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return []
        time.sleep(0.05)
    return children()


@case
def broker_serves_a_background_grandchild_after_the_command_exits():
    libc = ctypes.CDLL(None, use_errno=True)
    check_eq(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "prctl(PR_SET_CHILD_SUBREAPER)")
    ohtest.defer(libc.prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    s = secret()
    code = ("import os, time\n"
            "if os.fork() == 0:\n"
            "    time.sleep(4.0)\n"
            "    os.write(1, os.read(broker_open(%r), 100))\n"
            "    os._exit(0)\n"
            "os._exit(5)\n" % s)
    p = subprocess.Popen([BIN, "run", "--mode", "preload", "--allow", "r:" + s, "--"] + py(code),
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=ohtest.env())
    started = time.monotonic()
    status = p.wait(10)
    check_eq(status, 5, "run's status is the command's")
    # Not a speed check: the grandchild sleeps 4 s, run must not wait
    # for it (a loaded machine may take a second or two to start it all).
    check(time.monotonic() - started < 3.5, "run waited for the grandchild")
    check(children() != [], "the broker is gone while the grandchild holds the socket")
    check_eq(p.stdout.read(), b"top secret\n", "what the grandchild read through the broker")
    p.stdout.close()
    check_eq(reap_children(10), [], "processes left once the grandchild exited")


# ---- --learn -----------------------------------------------------------------

LEARN_PROGRAM = r'''
import os, sys
root = sys.argv[1]
with open(os.path.join(root, "in", "a.txt")) as f:
    data = f.read()
with open(os.path.join(root, "in", "b.txt")) as f:
    data += f.read()
os.listdir(os.path.join(root, "in"))
os.makedirs(os.path.join(root, "out"), exist_ok=True)
with open(os.path.join(root, "out", "result.txt"), "w") as f:
    f.write(data.upper())
tmp = os.path.join(root, "out", "result.tmp")
with open(tmp, "w") as f:
    f.write("x")
os.rename(tmp, os.path.join(root, "out", "final.txt"))
os.unlink(os.path.join(root, "out", "final.txt"))
'''


def learn_tree():
    write(path("tree", "in", "a.txt"), "alpha\n")
    write(path("tree", "in", "b.txt"), "beta\n")
    write(path("tree", "unrelated", "other.txt"), "not for you\n")
    return path("tree")


def rules(policy_file):
    return [line for line in read(policy_file).decode().splitlines()
            if line and not line.startswith("#")]


@case
def learn_writes_a_narrow_policy_that_check_accepts_and_that_works_again():
    tree = learn_tree()
    prog = [PYTHON, "-c", LEARN_PROGRAM, tree]
    policy = path("learned.policy")
    status, _, err = run("--learn", policy, "--", *prog)
    check_eq(status, 0, "learning run (stderr: %s)" % err)
    check_eq(read(path("tree", "out", "result.txt")), b"ALPHA\nBETA\n", "the learning run's work")

    got = rules(policy)
    ohtest.diag("\n".join(got))
    check(read(policy).startswith(b"# "), "a header comment")
    check_eq(got, sorted(got, key=lambda r: r.split(" ", 2)[2]), "rules sorted by path")
    for want in ("allow r %s/in/a.txt" % tree, "allow r %s/in/b.txt" % tree, "allow r %s/in" % tree,
                 "allow c %s/out" % tree, "allow wc %s/out/result.txt" % tree):
        check(want in got, "missing rule %r" % want)
    check(not any("unrelated" in r for r in got), "an unrelated path was granted")
    check(all(r.split(" ", 2)[2].startswith(tree + "/") for r in got),
          "a rule outside the tree the command used")
    # result.tmp and final.txt were created and removed: temporaries, which
    # a t rule for the directory they were made in stands for.
    check_eq([r for r in got if r.endswith("/")], ["allow t %s/out/" % tree],
             "the only subtree rule without --learn-collapse")

    status, out, err = run_openhook("check", "--policy", policy)
    check_eq(status, 0, "openhook check (%s%s)" % (out, err))

    os.unlink(path("tree", "out", "result.txt"))
    status, _, err = run("--policy", policy, "--", *prog)
    check_eq(status, 0, "re-run under the learned policy (stderr: %s)" % err)
    check_eq(read(path("tree", "out", "result.txt")), b"ALPHA\nBETA\n", "the re-run's work")

    # The policy is no wider than what was used.
    code = "open(%r).read()" % path("tree", "unrelated", "other.txt")
    status, _, _ = run("--policy", policy, "--", PYTHON, "-c", code)
    check(status != 0, "reading an unrelated file under the learned policy succeeded")


@case
def learn_collapse_grants_a_directory_for_files_used_together():
    tree = learn_tree()
    prog = [PYTHON, "-c", LEARN_PROGRAM, tree]
    policy = path("learned.policy")
    status, _, err = run("--learn", policy, "--learn-collapse", "--", *prog)
    check_eq(status, 0, "learning run (stderr: %s)" % err)
    got = rules(policy)
    ohtest.diag("\n".join(got))
    check("allow r %s/in/" % tree in got, "the two inputs become one rule for in/")
    check(not any("a.txt" in r for r in got), "a collapsed file kept its own rule")
    check(not any("unrelated" in r for r in got), "an unrelated path was granted")
    check_eq(run_openhook("check", "--policy", policy)[0], 0, "openhook check")
    status, _, err = run("--policy", policy, "--", *prog)
    check_eq(status, 0, "re-run under the collapsed policy (stderr: %s)" % err)


@case
def learn_collapse_keeps_exact_rules_next_to_an_unused_subdirectory():
    # A DIR/ rule would cover the whole subtree: with a subdirectory the run
    # never touched (a ~/.ssh beside the files read), the files stay exact.
    tree = learn_tree()
    write(path("tree", "in", "private", "key"), "secret\n")
    prog = [PYTHON, "-c", LEARN_PROGRAM, tree]
    policy = path("learned.policy")
    status, _, err = run("--learn", policy, "--learn-collapse", "--", *prog)
    check_eq(status, 0, "learning run (stderr: %s)" % err)
    got = rules(policy)
    ohtest.diag("\n".join(got))
    check("allow r %s/in/" % tree not in got, "in/ was collapsed over its subdirectory")
    check("allow r %s/in/a.txt" % tree in got, "a.txt keeps its exact rule")
    status, _, _ = run("--policy", policy, "--", PYTHON, "-c",
                       "open(%r).read()" % path("tree", "in", "private", "key"))
    check(status != 0, "the unused subdirectory is readable under the learned policy")


# Appends to a file that was there before, creates one, and reads through a
# symlinked directory: the decisions come from the shim's socket and from
# the seccomp supervisor.
APPEND_PROGRAM = r'''
import os, sys
root = sys.argv[1]
with open(os.path.join(root, "log"), "a") as f:
    f.write("more\n")
with open(os.path.join(root, "link", "a.txt")) as f:
    data = f.read()
with open(os.path.join(root, "out.txt"), "a") as f:
    f.write(data)
'''


@ohtest.scenario_per_mode(("preload", "seccomp"))
def learn_grants_c_only_for_files_the_run_created(mode):
    tree = learn_tree()
    write(path("tree", "log"), "old\n")
    os.symlink("in", path("tree", "link"))
    time.sleep(0.1)     # the log is born well before the run
    prog = [PYTHON, "-c", APPEND_PROGRAM, tree]
    policy = path("learned.policy")
    status, _, err = ohtest.run_confined(mode, prog, extra=["--learn", policy])
    check_eq(status, 0, "learning run (stderr: %s)" % err)
    got = rules(policy)
    ohtest.diag("\n".join(got))
    check("allow w %s/log" % tree in got, "an append to an existing file needs w, not c")
    check("allow wc %s/out.txt" % tree in got, "the file the run created needs c")
    check("allow r %s/in/a.txt" % tree in got, "the file read through the link")
    check_eq(run_openhook("check", "--policy", policy)[0], 0, "openhook check")

    os.unlink(path("tree", "out.txt"))
    status, _, err = ohtest.run_confined(mode, prog, extra=["--policy", policy])
    check_eq(status, 0, "re-run under the learned policy (stderr: %s)" % err)
    check_eq(read(path("tree", "log")), b"old\nmore\nmore\n", "the re-run's append")
    check_eq(read(path("tree", "out.txt")), b"alpha\n", "the re-run's new file")


# Like gcc with its /tmp/ccXXXXXX.s: a randomly named temporary file is
# created, written, read back and removed, then a result written.
TEMPORARY_PROGRAM = r'''
import os, sys
root = sys.argv[1]
tmp = os.path.join(root, "scratch", "cc%s.s" % os.urandom(6).hex())
with open(tmp, "w") as f:
    f.write("intermediate\n")
with open(tmp) as f:
    data = f.read()
os.unlink(tmp)
with open(os.path.join(root, "result.txt"), "w") as f:
    f.write(data.upper())
'''


@ohtest.scenario_per_mode(("preload", "seccomp"))
def learned_policy_covers_temporary_files_under_new_random_names(mode):
    tree = learn_tree()
    os.mkdir(path("tree", "scratch"))
    prog = [PYTHON, "-c", TEMPORARY_PROGRAM, tree]
    for collapse in ([], ["--learn-collapse"]):
        if os.path.exists(path("tree", "result.txt")):
            os.unlink(path("tree", "result.txt"))   # the learning run creates it
        policy = path("learned.policy")
        status, _, err = ohtest.run_confined(mode, prog, extra=["--learn", policy] + collapse)
        check_eq(status, 0, "learning run %s (stderr: %s)" % (collapse, err))
        text = read(policy).decode()
        got = rules(policy)
        ohtest.diag(text)
        check_eq([r for r in got if r.endswith("/")], ["allow t %s/scratch/" % tree],
                 "one subtree rule, for the temporaries' directory %s" % collapse)
        check(not any(".s" in r for r in got), "the temporary's own name was learned")
        check("allow wc %s/result.txt" % tree in got, "the result keeps its exact rule")
        comment = "# temporary files created and removed by the run"
        lines = text.splitlines()
        at = lines.index("allow t %s/scratch/" % tree)
        check(lines[at - 1].startswith(comment), "a comment line says why the directory is granted")
        check_eq(run_openhook("check", "--policy", policy)[0], 0, "openhook check")

        # The re-run picks another random name, and still succeeds.
        os.unlink(path("tree", "result.txt"))
        status, _, err = ohtest.run_confined(mode, prog, extra=["--policy", policy])
        check_eq(status, 0, "re-run under the learned policy %s (stderr: %s)" % (collapse, err))
        check_eq(read(path("tree", "result.txt")), b"INTERMEDIATE\n", "the re-run's result")
        check_eq(os.listdir(path("tree", "scratch")), [], "the re-run's temporary is gone")
        status, _, _ = ohtest.run_confined(mode, [PYTHON, "-c", "open(%r).read()" % path(
            "tree", "unrelated", "other.txt")], extra=["--policy", policy])
        check(status != 0, "an unrelated file is readable under the learned policy")


# A policy file reads a blank as the end of a path, '"' and '\\' as quoting,
# '#' as a comment: a learned rule must spell such a name so it reads back.
ODD_NAMES = ('a b"c#d', 'back\\slash', '"quoted"')

ODD_PROGRAM = r'''
import os, sys
root, names = sys.argv[1], sys.argv[2:]
data = ""
for name in names:
    with open(os.path.join(root, "in", name)) as f:
        data += f.read()
with open(os.path.join(root, "out", names[0]), "w") as f:
    f.write(data.upper())
'''


@case
def learned_rules_for_names_with_blanks_quotes_and_hashes_work_again():
    for name in ODD_NAMES:
        write(path("tree", "in", name), name + "\n")
    os.mkdir(path("tree", "out"))
    prog = [PYTHON, "-c", ODD_PROGRAM, path("tree")] + list(ODD_NAMES)
    policy = path("learned.policy")
    status, _, err = run("--learn", policy, "--", *prog)
    check_eq(status, 0, "learning run (stderr: %s)" % err)
    got = rules(policy)
    ohtest.diag("\n".join(got))
    check('allow r "%s/tree/in/a b\\"c#d"' % ohtest.tmp in got, "the name with a blank is quoted")

    status, out, err = run_openhook("check", "--policy", policy)
    check_eq(status, 0, "openhook check (%s%s)" % (out, err))
    os.unlink(path("tree", "out", ODD_NAMES[0]))
    status, _, err = run("--policy", policy, "--", *prog)
    check_eq(status, 0, "re-run under the learned policy (stderr: %s)" % err)
    want = "".join(n + "\n" for n in ODD_NAMES).upper()
    check_eq(read(path("tree", "out", ODD_NAMES[0])).decode(), want, "the re-run's work")


# open() is async-signal-safe: a handler may open while its thread is in
# the middle of a brokered open.  Prints the opens the main loop made.
SIGNAL_OPEN_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *handler_path;
static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
        int saved = errno, fd = open(handler_path, O_RDONLY | O_CLOEXEC);

        if (fd >= 0)
                close(fd);
        handled++;
        errno = saved;
}

int main(int argc, char **argv)
{
        struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
        /* Every millisecond: an open in the handler takes tens of
         * microseconds through the broker, hundreds on a loaded machine,
         * and a timer that fires faster than the handler returns never
         * lets the loop go on (a livelock natively too, at that rate). */
        struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
        int opened = 0;

        handler_path = argv[2];
        sigaction(SIGALRM, &sa, NULL);
        setitimer(ITIMER_REAL, &it, NULL);
        for (int i = 0; i < 10000; i++) {
                int fd = open(argv[1], O_RDONLY | O_CLOEXEC);

                if (fd >= 0) {
                        opened++;
                        close(fd);
                }
        }
        printf("%d %d\n", opened, handled > 0);
        return 0;
}
"""


@case
def an_open_from_a_signal_handler_never_deadlocks_the_shim():
    exe = compile_c("signalopen", SIGNAL_OPEN_C)
    write(path("sig", "main"), "main\n")
    write(path("sig", "handler"), "handler\n")
    for mode in ("preload", "seccomp"):
        try:
            status, out, err = ohtest.run_confined(
                mode, [exe, path("sig", "main"), path("sig", "handler")],
                allow=[("r", path("sig") + "/")], direct=[exe], timeout=30)
        except subprocess.TimeoutExpired:
            check(False, "%s: the program hung" % mode)
            continue
        check_eq((status, out), (0, "10000 1\n"), "%s: %s" % (mode, err))


REUSED_DIRFD = r'''
import ctypes, os, sys
direct, brokered = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
out = []
for how in ("close", "raw close"):
    fd = os.open(direct, os.O_RDONLY | os.O_DIRECTORY)
    out.append(os.read(os.open("d.txt", os.O_RDONLY, dir_fd=fd), 100).decode().strip())
    if how == "close":
        os.close(fd)
    else:
        libc.syscall(3, fd)         # SYS_close on x86_64, unseen by the shim
    fd2 = os.open(brokered, os.O_RDONLY | os.O_DIRECTORY)
    assert fd2 == fd, (fd, fd2)
    out.append(os.read(os.open("b.txt", os.O_RDONLY, dir_fd=fd2), 100).decode().strip())
    os.close(fd2)
print(" ".join(out))
'''


@ohtest.scenario_per_mode(["preload", "seccomp"])
def a_directory_fd_number_reused_for_a_brokered_directory_reaches_the_broker(mode):
    # The shim remembers directory fds of the direct set by number: a
    # number reused for a directory outside it must not be taken for it.
    if os.uname().machine != "x86_64":
        raise ohtest.Skip("the raw close is written for x86_64")
    direct, brokered = path("reuse-direct-" + mode), path("reuse-brokered-" + mode)
    os.mkdir(direct)
    os.mkdir(brokered)
    write(os.path.join(direct, "d.txt"), b"direct\n")
    write(os.path.join(brokered, "b.txt"), b"brokered\n")
    log = path("reuse-%s.jsonl" % mode)
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", REUSED_DIRFD, direct, brokered],
                                           [("r", brokered + "/")], direct=[direct], extra=["--log", log])
    check_eq(status, 0, err)
    check_eq(out.split(), ["direct", "brokered"] * 2)
    opened = [json.loads(l)["path"] for l in read(log).decode().splitlines()
              if json.loads(l)["command"] == "open" and json.loads(l)["decision"] == "allow"]
    check_eq(opened.count(os.path.join(brokered, "b.txt")), 2, "each brokered read decided and logged: %r" % opened)


if __name__ == "__main__":
    sys.exit(ohtest.main())

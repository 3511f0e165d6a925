#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`openhook run --mode seccomp`: programs whose path syscalls are answered
by the supervisor, including ones no LD_PRELOAD shim could reach (static
binaries, raw syscalls, i386 syscalls)."""

import json
import os
import shutil
import signal
import subprocess
import time

import ohtest
from ohtest import case, check, check_eq, path, read, run_openhook, write

PYTHON = "/usr/bin/python3"
BUSYBOX = "/bin/busybox"

# A static program making raw syscalls: no libc wrapper, no loader, nothing
# a shim could interpose.  Prints one line per operation: "ok" or the errno
# name.
RAW_C = r'''
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long r)
{
        printf("%s %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static void cat(const char *what, long fd)
{
        char buf[256];
        long n;

        report(what, fd);
        if (fd < 0)
                return;
        n = read((int)fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        printf("%s-content %s", what, buf);
        close((int)fd);
}

int main(int argc, char **argv)
{
        const char *dir = argv[1];
        char p[4096];
        long dirfd;

        snprintf(p, sizeof p, "%s/allowed", dir);
        cat("openat", syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC));
        snprintf(p, sizeof p, "%s/secret", dir);
        report("secret", syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
        dirfd = syscall(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        report("dirfd", dirfd);
        cat("relative", syscall(SYS_openat, (int)dirfd, "sub/../allowed", O_RDONLY));
        report("relative-secret", syscall(SYS_openat, (int)dirfd, "secret", O_RDONLY));
        report("mkdir", syscall(SYS_mkdirat, (int)dirfd, "made", 0755));
        report("creat", syscall(SYS_creat, "out", 0644));
#ifdef __x86_64__
        /* The i386 entry point: other numbers, same files.  Only when asked
         * (argv[2] is "i386"): without IA32 emulation int $0x80 is fatal. */
        if (argc < 3 || strcmp(argv[2], "i386") != 0)
                return 0;
        char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        long r;
        snprintf(low, 4096, "%s/secret", dir);
        __asm__ volatile ("int $0x80" : "=a"(r) : "a"(5L), "b"(low), "c"(0L), "d"(0L) : "memory");
        printf("i386-secret %s\n", r < 0 ? strerrorname_np((int)-r) : "ok");
        snprintf(low, 4096, "%s/allowed", dir);
        __asm__ volatile ("int $0x80" : "=a"(r) : "a"(5L), "b"(low), "c"(0L), "d"(0L) : "memory");
        if (r < 0)
                errno = (int)-r;
        cat("i386", r);
#endif
        return 0;
}
'''

HAMMER = r'''
import os, sys, threading
d = sys.argv[1]
def worker(i):
    while True:
        fd = os.open("%s/f%d" % (d, i % 32), os.O_RDONLY)
        os.close(fd)
for i in range(8):
    threading.Thread(target=worker, args=(i,), daemon=True).start()
open(d + "/../started", "w").close()
threading.Event().wait()
'''

THREADS = r'''
import os, sys, threading
d = sys.argv[1]
bad = []
def worker(i):
    for k in range(150):
        name = "f%d" % ((i * 7 + k) % 32)
        with open(os.path.join(d, name)) as f:
            if f.read() != name + "\n":
                bad.append(name)
threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print("bad", len(bad))
'''


def run(*args, timeout=60):
    missing = ohtest.seccomp_mode_missing()
    if missing:
        raise ohtest.Skip(missing)
    return run_openhook("run", "--mode", "seccomp", *args, timeout=timeout)


def compile_static(name, source):
    cc = shutil.which("cc") or shutil.which("gcc")
    check(cc is not None, "no C compiler to build the %s helper" % name)
    src = write(path(name + ".c"), source)
    exe = path(name)
    subprocess.run([cc, "-O1", "-static", "-o", exe, src], check=True)
    return exe


def lines(out):
    return dict(l.split(" ", 1) for l in out.splitlines() if " " in l)


def tree():
    write(path("data", "allowed"), "allowed\n")
    write(path("data", "secret"), "secret\n")
    os.mkdir(path("data", "sub"))
    for i in range(32):
        write(path("many", "f%d" % i), "f%d\n" % i)


@case
def a_dynamic_program_starts_under_seccomp():
    status, out, err = run("--", "/bin/true")
    check_eq(status, 0, "true: " + err)
    status, out, err = run("--", "/bin/sh", "-c", "exit 7")
    check_eq(status, 7, "sh exit 7: " + err)


@case
def busybox_static_reads_the_allowed_file_and_not_the_other():
    tree()
    status, out, err = run("--allow", "r:" + path("data", "allowed"), "--",
                           BUSYBOX, "cat", path("data", "allowed"))
    check_eq((status, out), (0, "allowed\n"), "cat allowed: " + err)
    status, out, err = run("--allow", "r:" + path("data", "allowed"), "--",
                           BUSYBOX, "cat", path("data", "secret"))
    check(status != 0, "cat secret must fail")
    check_eq(out, "")
    check("Permission denied" in err, "busybox says why: " + err)
    check("--allow r:" + path("data", "secret") in err, "the denial names the rule: " + err)


@case
def direct_set_is_no_way_around_the_policy_without_landlock():
    """The supervisor lets reads of the direct set through to the kernel
    only because Landlock holds the program to that set: with --unconfined
    the direct set becomes allow rules the supervisor applies itself (so a
    --direct directory is read through the policy, and nothing beside it),
    and an OPENHOOK_DIRECT inherited by run grants nothing."""
    tree()
    cat = [BUSYBOX, "cat", path("data", "secret")]
    status, out, err = run("--direct", path("data"), "--", *cat)
    check_eq((status, out), (0, "secret\n"), "read directly under Landlock: " + err)
    log = path("unconfined.log")
    status, out, err = run("--unconfined", "--log", log, "--direct", path("data"), "--", *cat)
    check_eq((status, out), (0, "secret\n"), "read with --unconfined: " + err)
    check(path("data", "secret") in read(log).decode(), "the supervisor opened it: %r" % read(log))
    status, out, err = run("--unconfined", "--direct", path("data", "sub"), "--", *cat)
    check_eq((status, out), (1, ""), "read beside --direct with --unconfined: " + err)
    check("Permission denied" in err, "busybox says why: " + err)
    p = subprocess.run([ohtest.BIN, "run", "--mode", "seccomp", "--unconfined", "--"] + cat,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                       env=ohtest.env({"OPENHOOK_DIRECT": path("data")}))
    check_eq((p.returncode, p.stdout), (1, b""), "read with OPENHOOK_DIRECT inherited: %r" % p.stderr)
    status, out, err = run("--unconfined", "--allow", "r:" + path("data", "secret"), "--", *cat)
    check_eq((status, out), (0, "secret\n"), "still served when the policy allows it: " + err)


@case
def o_path_opens_are_the_kernels_and_every_use_of_them_is_decided():
    # cp -r SRC DEST/ opens DEST with O_PATH|O_DIRECTORY, rsync walks from /
    # with O_PATH: the kernel makes O_PATH opens (an O_PATH fd reads and
    # writes nothing, and ADDFD cannot install one), and what is opened
    # through such an fd is decided on the path it names.
    tree()
    os.mkdir(path("out"))
    status, out, err = run("--allow", "rwcd:" + path() + "/", "--",
                           "cp", "-r", path("data"), path("out") + "/")
    check_eq(status, 0, "cp -r: " + err)
    check_eq(read(path("out", "data", "allowed")), b"allowed\n")
    check(not os.path.exists(path("out", "allowed")), "cp copied into the wrong place")
    script = ("import os\n"
              "fd = os.open(%r, os.O_PATH | os.O_DIRECTORY)\n"
              "print(os.read(os.open('allowed', os.O_RDONLY, dir_fd=fd), 64).decode(), end='')\n"
              "etc = os.open('/etc', os.O_PATH | os.O_DIRECTORY)\n"
              "for how in ('hostname', '/proc/self/fd/%%d' %% etc):\n"
              "    try:\n"
              "        os.open(how, os.O_RDONLY, dir_fd=etc)\n"
              "        print('escaped')\n"
              "    except OSError:\n"
              "        print('refused')\n" % path("data"))
    status, out, err = run("--allow", "r:" + path("data") + "/", "--", PYTHON, "-c", script)
    check_eq((status, out), (0, "allowed\nrefused\nrefused\n"), "O_PATH: " + err)


# i386 code for ctypes: mov eax, 20 (i386 getpid); int 0x80; ret.
I386_GETPID = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"


def ia32_emulation_missing():
    """None if this kernel runs i386 syscalls (int $0x80), else the reason
    it does not: without IA32 emulation (CONFIG_IA32_EMULATION off, or
    ia32_emulation=0) the instruction kills the process with SIGSEGV.
    Tried in a forked child."""
    if os.uname().machine != "x86_64":
        return "int $0x80 is an x86-64 test (this is %s)" % os.uname().machine
    import ctypes, mmap, resource
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGSEGV, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            code.write(I386_GETPID)
            addr = ctypes.addressof(ctypes.c_char.from_buffer(code))
            got = ctypes.CFUNCTYPE(ctypes.c_long)(addr)()
            os._exit(0 if got == os.getpid() else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 2:
        raise ohtest.Failure("could not try int $0x80 from Python (mmap or ctypes failed)")
    how = ("killed by %s" % signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status)
           else "it returned another pid")
    return "this kernel has no IA32 emulation (int $0x80 getpid: %s)" % how


def run_raw(i386=False):
    tree()
    exe = compile_static("raw", RAW_C)
    os.mkdir(path("cwd"))
    status, out, err = run("--direct", exe, "--allow", "r:" + path("data", "allowed"),
                           "--allow", "r:" + path("data", "sub") + "/",
                           "--allow", "r:" + path("data") + "/", "--deny", path("data", "secret"),
                           "--", "/bin/sh", "-c", 'cd "$1" && exec "$2" "$3" "$4"', "sh",
                           path("cwd"), exe, path("data"), "i386" if i386 else "-")
    check_eq(status, 0, err)
    ohtest.diag(out)
    return lines(out)


@case
def raw_syscalls_of_a_static_program_are_brokered():
    got = run_raw()
    # The file is outside Landlock's direct set: only the broker could open it.
    check_eq(got.get("openat"), "ok")
    check_eq(got.get("openat-content"), "allowed")
    check_eq(got.get("secret"), "EACCES")
    check_eq(got.get("relative-content"), "allowed")
    check_eq(got.get("relative-secret"), "EACCES")
    check_eq(got.get("mkdir"), "EACCES")
    check_eq(got.get("creat"), "EACCES")
    check(not os.path.exists(path("data", "made")), "nothing created")
    check(not os.path.exists(path("cwd", "out")), "nothing created in the cwd")


@case
def i386_syscalls_of_a_static_program_are_brokered():
    missing = ia32_emulation_missing()
    if missing:
        raise ohtest.Skip(missing)
    got = run_raw(i386=True)
    check_eq(got.get("openat-content"), "allowed", "the 64-bit calls before")
    check_eq(got.get("i386-secret"), "EACCES")
    check_eq(got.get("i386"), "ok")
    check_eq(got.get("i386-content"), "allowed")


@case
def writes_go_through_the_policy():
    tree()
    os.mkdir(path("out"))
    status, out, err = run("--allow", "rwcd:" + path("out") + "/", "--",
                           "/bin/sh", "-c", 'cd "$1" && echo one > a && echo two >> a && '
                           'mkdir d && mv a d/b && ln -s b d/c && cat d/c && rm d/c', "sh", path("out"))
    check_eq((status, out), (0, "one\ntwo\n"), err)
    check_eq(read(path("out", "d", "b")), b"one\ntwo\n")
    check(not os.path.lexists(path("out", "d", "c")))
    status, out, err = run("--allow", "rwcd:" + path("out") + "/", "--",
                           "/bin/sh", "-c", 'echo x > "$1"', "sh", path("data", "new"))
    check(status != 0, "writing outside the policy fails")
    check(not os.path.exists(path("data", "new")))


@case
def proc_self_refers_to_the_program():
    # Without the default direct set, /proc/self/... is brokered: the
    # broker must open the program's /proc entry, not its own (whose name
    # would read "(openhook)").
    status, out, err = run("--no-default-direct", "--allow", "r:/proc/", "--",
                           BUSYBOX, "sh", "-c", 'cat /proc/self/stat; cat /proc/thread-self/stat')
    check_eq(status, 0, err)
    for line in out.splitlines():
        check(line.split()[1] in ("(cat)", "(busybox)"), "not the program's: " + line)
    check_eq(len(out.splitlines()), 2)
    # With the direct set, the kernel itself resolves /proc/self.
    status, out, err = run("--", PYTHON, "-c",
                           'import os; print(open("/proc/self/stat").read().split()[0] == str(os.getpid()))')
    check_eq((status, out), (0, "True\n"), err)


@case
def many_threads_opening_at_once_each_get_their_file():
    tree()
    status, out, err = run("--allow", "r:" + path("many") + "/", "--",
                           PYTHON, "-c", THREADS, path("many"), timeout=120)
    check_eq((status, out), (0, "bad 0\n"), err)


@case
def fork_and_exec_stay_supervised():
    tree()
    status, out, err = run("--allow", "r:" + path("data", "allowed"), "--",
                           "/bin/sh", "-c", 'cat "$1"; (cat "$1"); sh -c "cat $1 | cat"; '
                           '(sleep 0.2; cat "$1" > /dev/null && echo late) & cat "$2"; wait; true',
                           "sh", path("data", "allowed"), path("data", "secret"))
    check_eq(out, "allowed\n" * 3 + "late\n", err)
    check("Permission denied" in err)
    check_eq(status, 0)


@case
def a_program_killed_mid_request_leaves_the_broker_healthy():
    tree()
    script = write(path("hammer.py"), HAMMER)
    t0 = time.monotonic()
    status, out, err = run("--allow", "r:" + path("many") + "/", "--allow", "rwcd:" + path("started"), "--allow", "r:" + script,
                           "--allow", "r:" + path("data", "allowed"), "--",
                           "/bin/sh", "-c",
                           'for i in 1 2 3; do '
                           '  rm -f "$3"; "$1" "$2" "$4" & pid=$!; '
                           '  n=0; while [ ! -e "$3" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done; sleep 0.2; kill -9 $pid; wait $pid; '
                           'done; cat "$5"', "sh", PYTHON, script, path("started"), path("many"),
                           path("data", "allowed"), timeout=120)
    ohtest.diag("took %.1fs" % (time.monotonic() - t0))
    check_eq((status, out), (0, "allowed\n"), err)


# Runs in a directory that is then removed; a directory really named
# "gone (deleted)" sits where the cwd's readlink now points.
DELETED_CWD = r'''
import os, sys
base = sys.argv[1]
os.mkdir(os.path.join(base, "gone"))
os.chdir(os.path.join(base, "gone"))
os.rmdir(os.path.join(base, "gone"))
for what, call in (("create", lambda: os.open("made", os.O_WRONLY | os.O_CREAT, 0o644)),
                   ("mkdir", lambda: os.mkdir("madedir")),
                   ("read", lambda: os.open("there", os.O_RDONLY))):
    try:
        call()
        print(what, "ok")
    except OSError as e:
        print(what, os.strerror(e.errno))
'''


@case
def relative_paths_in_a_removed_cwd_are_not_found():
    write(path("gone (deleted)", "there"), "decoy\n")
    status, out, err = run("--no-shim", "--allow", "rwcd:" + path() + "/", "--",
                           PYTHON, "-c", DELETED_CWD, path())
    check_eq(status, 0, err)
    want = "".join("%s No such file or directory\n" % w for w in ("create", "mkdir", "read"))
    check_eq(out, want, "the kernel's answer in a removed directory")
    check_eq(sorted(os.listdir(path("gone (deleted)"))), ["there"],
             "a name was made beside the decoy")


@case
def run_waits_for_nothing_once_the_program_is_gone():
    # The supervisor returns when the last filtered process exits; run's
    # broker then exits too (no stray process holding the terminal).
    status, out, err = run("--", "/bin/sh", "-c", "exit 0", timeout=10)
    check_eq(status, 0, err)



# ---- The shim as the fast path ------------------------------------------------

# The child closes every inherited fd (close_fds=True, subprocess's
# default), OPENHOOK_FD included: its shim has no broker to ask.
CLOSE_FDS_CHILD = r'''
import subprocess, sys
child = subprocess.run([sys.executable, "-c", "import sys; print(open(sys.argv[1]).read(), end='')",
                        sys.argv[1]], capture_output=True, text=True)
print("child", child.returncode, child.stdout.strip() or child.stderr.strip().splitlines()[-1])
'''


@case
def a_subprocess_child_that_closed_the_inherited_socket_is_served_by_the_supervisor():
    tree()
    allowed = path("data", "allowed")
    status, out, err = run("--allow", "r:" + allowed, "--", PYTHON, "-c", CLOSE_FDS_CHILD, allowed)
    check_eq((status, out), (0, "child 0 allowed\n"), err)
    # Preload mode has no notifier behind the shim: Landlock refuses.
    status, out, err = run_openhook("run", "--mode", "preload", "--allow", "r:" + allowed, "--",
                                    PYTHON, "-c", CLOSE_FDS_CHILD, allowed)
    check_eq(status, 0, err)
    check(out.startswith("child 1 PermissionError"), "preload mode fails closed: %r" % out)


@case
def the_broker_outlives_the_program_until_its_last_child_is_gone():
    """--learn makes run wait for the broker, which must serve a late
    background child (through the shim) and its close_fds grandchild
    (through the supervisor), then end."""
    tree()
    learned = path("learned.policy")
    t0 = time.monotonic()
    status, out, err = run("--learn", learned, "--", "/bin/sh", "-c",
                           '(sleep 0.5; cat "$2" > /dev/null; "$1" -c "$3" "$4") & exit 0',
                           "sh", PYTHON, path("data", "allowed"), CLOSE_FDS_CHILD, path("many", "f1"),
                           timeout=30)
    check_eq(status, 0, err)
    check(time.monotonic() - t0 >= 0.5, "run returned before the background child was done")
    policy = read(learned).decode()
    check("allow r " + path("data", "allowed") + "\n" in policy, "the shim's read is learned:\n" + policy)
    check("allow r " + path("many", "f1") + "\n" in policy, "the notified read is learned:\n" + policy)


@case
def no_shim_is_refused_in_preload_mode():
    status, out, err = run_openhook("run", "--mode", "preload", "--no-shim", "--", "true")
    check_eq(status, 125, err)
    check("--no-shim" in err, "the message names the option: %r" % err)


# Opens from a second thread: the socket server logs the sender's process
# id (SCM_CREDENTIALS), the supervisor the id of the thread that made the
# syscall, so the log tells which of them answered.
OPEN_LOOP = r'''
import os, sys, threading
def loop():
    for i in range(200):
        os.close(os.open("%s/f%d" % (sys.argv[1], i % 32), os.O_RDONLY))
    print(os.getpid(), threading.get_native_id())
t = threading.Thread(target=loop)
t.start()
t.join()
'''


def open_loop_log_pids(*args):
    log = path("log-%d.jsonl" % len(args))
    status, out, err = run("--log", log, "--allow", "r:" + path("many") + "/", *args, "--",
                           PYTHON, "-c", OPEN_LOOP, path("many"))
    check_eq(status, 0, err)
    pid, tid = map(int, out.split())
    check(pid != tid, "the loop ran in a second thread")
    opens = [json.loads(l) for l in read(log).decode().splitlines()]
    opens = [d for d in opens if d["command"] == "open" and (d["path"] or "").startswith(path("many") + "/")]
    # Files sent ahead are logged when sent; the loop may not use them all.
    asked = [d for d in opens if d.get("reason") != "sent ahead"]
    check(len(asked) <= 200 <= len(opens), "log lines of the loop: %d asked, %d in all" % (len(asked), len(opens)))
    return pid, tid, {d["pid"] for d in opens}


@case
def brokered_opens_of_a_dynamic_program_go_over_the_socket_not_the_notifier():
    tree()
    pid, tid, senders = open_loop_log_pids()
    check_eq(senders, {pid}, "answered by the socket server (thread %d)" % tid)
    pid, tid, senders = open_loop_log_pids("--no-shim")
    check_eq(senders, {tid}, "with --no-shim, answered by the supervisor (process %d)" % pid)

if __name__ == "__main__":
    raise SystemExit(ohtest.main())

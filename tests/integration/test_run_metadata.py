#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""File metadata under `openhook run`: Landlock does not restrict chmod,
chown, utime or setxattr, so they must go through the broker (mode and
times, needing w) or be refused (ownership, extended attributes), and the
confined program keeps no capability.

Every scenario runs once per mode in OPENHOOK_TEST_MODES (default
"preload seccomp seccomp-noshim")."""

import json
import os
import shutil
import subprocess

import ohtest
from ohtest import BIN, case, check, check_eq, path, write

MODES = os.environ.get("OPENHOOK_TEST_MODES", "preload seccomp seccomp-noshim").split()

OLD = 1000000000                        # 2001-09-09, far from "now"



scenario = ohtest.scenario_per_mode(MODES)
ok = ohtest.ok
refused = ohtest.refused


def run(mode, cmd, allow, extra=()):
    """Runs CMD under `openhook run` in work/.  Returns (status, out, err)."""
    return ohtest.run_confined(mode, cmd, allow, cwd=work(), extra=extra)


def work(*parts):
    return path("work", *parts)


def outside(*parts):
    return path("outside", *parts)


def setup():
    """work/ is granted in full; outside/victim (root's, 0644, old times) is
    named by no rule."""
    os.makedirs(work(), exist_ok=True)
    write(work("f"), "mine\n")
    os.chmod(work("f"), 0o644)
    write(outside("victim"), "not yours\n")
    os.chmod(outside("victim"), 0o644)
    os.utime(outside("victim"), (OLD, OLD))
    return [("rwcd", work() + "/")]


def mode_of(p):
    return os.lstat(p).st_mode & 0o7777


def victim_untouched():
    st = os.lstat(outside("victim"))
    check_eq(st.st_mode & 0o7777, 0o644, "victim's mode")
    check_eq((st.st_uid, st.st_gid), (0, 0), "victim's owner")
    check_eq(int(st.st_mtime), OLD, "victim's mtime")


# ---- mode ------------------------------------------------------------------

@scenario
def chmod_of_an_allowed_file_works(mode):
    allow = setup()
    ok(run(mode, ["chmod", "600", "f"], allow), "chmod")
    check_eq(mode_of(work("f")), 0o600)


@scenario
def chmod_outside_the_policy_is_refused_and_the_mode_kept(mode):
    allow = setup()
    refused(run(mode, ["chmod", "777", outside("victim")], allow), "chmod 777")
    victim_untouched()


@scenario
def chmod_without_w_is_refused(mode):
    setup()
    refused(run(mode, ["chmod", "600", "f"], [("r", work() + "/")]), "chmod")
    check_eq(mode_of(work("f")), 0o644)


@scenario
def chmod_never_sets_setuid_or_setgid(mode):
    allow = setup()
    ok(run(mode, ["chmod", "6755", "f"], allow), "chmod 6755")
    check_eq(mode_of(work("f")), 0o755)


# ---- times ------------------------------------------------------------------

@scenario
def touch_d_sets_the_mtime_of_an_allowed_file(mode):
    allow = setup()
    ok(run(mode, ["touch", "-d", "@%d" % OLD, "f"], allow), "touch -d")
    check_eq(int(os.stat(work("f")).st_mtime), OLD)


@scenario
def touch_d_outside_the_policy_fails_and_keeps_the_mtime(mode):
    allow = setup()
    refused(run(mode, ["touch", "-d", "@%d" % (OLD + 86400), outside("victim")], allow), "touch -d")
    victim_untouched()


@scenario
def python_utime_without_w_is_refused(mode):
    setup()
    status, out, err = run(mode, ["/usr/bin/python3", "-c",
                                  "import os\ntry:\n os.utime('f', (1, 1))\nexcept OSError as e:\n print(e.errno)"],
                           [("r", work() + "/")])
    check_eq((status, out.strip()), (0, str(ohtest.errno.EACCES)), "python3 os.utime")
    check(int(os.stat(work("f")).st_mtime) != 1, "mtime changed")


# ---- ownership and extended attributes ----------------------------------

@scenario
def chown_is_refused_inside_and_outside_the_policy(mode):
    allow = setup()
    refused(run(mode, ["chown", "nobody", outside("victim")], allow), "chown outside")
    refused(run(mode, ["chown", "nobody", "f"], allow), "chown inside")
    victim_untouched()
    check_eq(os.lstat(work("f")).st_uid, 0, "f's owner")


@scenario
def setxattr_by_path_is_refused(mode):
    allow = setup()
    status, out, err = run(mode, ["/usr/bin/python3", "-c",
                                  "import os, sys\nfor p in sys.argv[1:]:\n"
                                  " try:\n  os.setxattr(p, 'user.oh', b'1')\n  print(0)\n"
                                  " except OSError as e:\n  print(e.errno)",
                                  "f", outside("victim")], allow)
    check_eq((status, out.split()), (0, [str(ohtest.errno.EPERM)] * 2), "setxattr")
    check("user.oh" not in os.listxattr(outside("victim")), "victim got an xattr")


# ---- the fd forms still work -------------------------------------------------

@scenario
def cp_p_into_the_allowed_dir_keeps_mode_and_times(mode):
    allow = setup()
    write(work("src"), "copy me\n")
    os.chmod(work("src"), 0o640)
    os.utime(work("src"), (OLD, OLD))
    ok(run(mode, ["cp", "-p", "src", "dst"], allow), "cp -p")
    st = os.stat(work("dst"))
    check_eq(st.st_mode & 0o7777, 0o640, "dst's mode")
    check_eq(int(st.st_mtime), OLD, "dst's mtime")


# ---- raw syscalls, past libc -------------------------------------------------

RAW_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

/* Each operation as a raw syscall; prints 0 or the errno. */
int main(int argc, char **argv)
{
        struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        struct timeval tv[2] = { { 1000000000, 5 }, { 1000000000, 5 } };
        struct utimbuf ub = { 1000000000, 1000000000 };
        const char *op = argv[1], *p = argv[2];
        long r = -1;

        if (argc != 3)
                return 2;
        if (!strcmp(op, "chmod"))
                r = syscall(SYS_chmod, p, 0777);
        else if (!strcmp(op, "fchmodat2"))
                r = syscall(452, AT_FDCWD, p, 0777, 0);
        else if (!strcmp(op, "utimensat"))
                r = syscall(SYS_utimensat, AT_FDCWD, p, ts, 0);
        else if (!strcmp(op, "utime"))
                r = syscall(SYS_utime, p, &ub);
        else if (!strcmp(op, "utimes"))
                r = syscall(SYS_utimes, p, tv);
        else if (!strcmp(op, "futimesat"))
                r = syscall(SYS_futimesat, AT_FDCWD, p, tv);
        else if (!strcmp(op, "chown"))
                r = syscall(SYS_chown, p, 65534, 65534);
        else if (!strcmp(op, "setxattrat"))
                r = syscall(463, AT_FDCWD, p, 0, "user.oh", NULL, 0);
        else if (!strcmp(op, "futimens")) {
                int fd = open(p, O_WRONLY | O_CLOEXEC);
                r = fd < 0 ? fd : syscall(SYS_utimensat, fd, NULL, ts, 0);
        }
        printf("%d\n", r < 0 ? errno : 0);
        return 0;
}
"""


def raw_program(mode):
    """Compiled here, outside openhook: static for seccomp mode where the
    static libc is installed (nothing but the kernel between the program
    and its syscalls), dynamic for preload mode (the shim is its only way
    to open files)."""
    src, exe = path("bin", "raw.c"), path("bin", "raw")
    write(src, RAW_C)
    static = mode != "preload" and any(os.path.exists(d + "/libc.a") for d in
                                      ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"))
    subprocess.run(["gcc", "-O2"] + (["-static"] if static else []) + ["-o", exe, src], check=True)
    return exe


def raw(mode, op, p, allow):
    status, out, err = run(mode, [raw_program(mode), op, p], allow)
    check_eq(status, 0, "raw %s: %s" % (op, err))
    return int(out)


@scenario
def raw_chmod_of_an_allowed_file_is_refused_in_preload_and_brokered_in_seccomp(mode):
    allow = setup()
    for op in ("chmod", "fchmodat2"):
        os.chmod(work("f"), 0o644)
        r = raw(mode, op, work("f"), allow)
        if mode != "preload":
            check_eq((r, mode_of(work("f"))), (0, 0o777), op)
        else:
            check_eq((r, mode_of(work("f"))), (ohtest.errno.EPERM, 0o644), op)


@scenario
def raw_utime_family_is_refused_in_preload_and_brokered_in_seccomp(mode):
    allow = setup()
    for op, nsec in (("utime", 0), ("utimes", 5000), ("futimesat", 5000), ("utimensat", 0)):
        os.utime(work("f"), ns=(7 * 10**9, 7 * 10**9))
        r = raw(mode, op, work("f"), allow)
        got = os.stat(work("f")).st_mtime_ns
        if mode != "preload":
            check_eq((r, got), (0, OLD * 10**9 + nsec), op)
        else:
            check_eq((r, got), (ohtest.errno.EPERM, 7 * 10**9), op)


@scenario
def raw_metadata_syscalls_outside_the_policy_change_nothing(mode):
    allow = setup()
    for op in ("chmod", "fchmodat2", "utime", "utimes", "futimesat", "utimensat", "chown", "setxattrat"):
        r = raw(mode, op, outside("victim"), allow)
        check(r in (ohtest.errno.EPERM, ohtest.errno.EACCES), "raw %s answered %d" % (op, r))
    victim_untouched()


@scenario
def raw_futimens_on_a_brokered_fd_works(mode):
    allow = setup()
    check_eq(raw(mode, "futimens", work("f"), allow), 0)
    check_eq(int(os.stat(work("f")).st_mtime), OLD)


# ---- privilege, log, learning -----------------------------------------------

@scenario
def confined_program_keeps_no_capability(mode):
    allow = setup()
    out = ok(run(mode, ["grep", "^Cap", "/proc/self/status"], allow), "grep")
    caps = dict(line.split(":\t") for line in out.splitlines())
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        check_eq(int(caps[name], 16), 0, name)


@scenario
def decision_log_names_chmod_and_utimens(mode):
    allow = setup()
    log = path("log.json")
    run(mode, ["chmod", "600", outside("victim")], allow, extra=["--log", log])
    run(mode, ["touch", "-d", "@%d" % OLD, outside("victim")], allow, extra=["--log", log])
    entries = [json.loads(line) for line in open(log)]
    denied = {(e["command"], e["path"]) for e in entries if e["decision"] == "deny"}
    check(("chmod", outside("victim")) in denied, "no chmod denial in %r" % entries)
    check(("utimens", outside("victim")) in denied, "no utimens denial in %r" % entries)


@scenario
def learn_mode_grants_w_for_chmod(mode):
    setup()
    learned = path("learned.policy")
    ok(run(mode, ["chmod", "600", work("f")], [], extra=["--learn", learned]), "chmod --learn")
    rules = [line.split() for line in open(learned) if line.startswith("allow")]
    check(any(r[2] == work("f") and "w" in r[1] for r in rules), "no w rule for f in %r" % rules)


if __name__ == "__main__":
    if not shutil.which("gcc"):
        print("# gcc is missing: the raw syscall scenarios will fail")
    raise SystemExit(ohtest.main())

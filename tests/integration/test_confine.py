#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The broker's self-confinement (`openhook serve` without --no-confine):
what the kernel reports about the running broker, that every normal
operation still works inside the walls, and that a broker whose policy
check is switched off (the test_bypass_policy build, OPENHOOK_BYPASS_BIN)
still cannot open a file outside the policy."""

import errno
import os
import subprocess
import socket
import struct

import ohtest
from ohtest import (CMD_CONNECT, CMD_LINK, CMD_MKDIR, CMD_RENAME, CMD_RMDIR,
                    CMD_SYMLINK, CMD_TRUNCATE, CMD_UNLINK, Broker, case, check,
                    check_eq, check_result, fd_read, link_msg, message,
                    mkdir_msg, open_, path, read, recv_reply, rename_msg,
                    request, rmdir_msg, symlink_msg, truncate_msg, unlink_msg,
                    write)

EACCES = -errno.EACCES
BYPASS_BIN = os.environ.get("OPENHOOK_BYPASS_BIN")

# What a broker started as root keeps (src/confine.c: file access only).
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
KEPT_CAPS = (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_FOWNER)


def status(pid):
    """/proc/PID/status as a dict of its fields."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def under_asan(pid):
    """The seccomp layer is left out of ASan builds (src/confine.c)."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    return "libasan" in maps or "clang_rt.asan" in maps


def data_tree():
    write(path("data", "hello"), b"hello\n")
    write(path("secret"), b"secret\n")
    return path("data")


def wait_confined(br):
    """The broker confines itself before it serves: once a request is
    answered, the walls are up."""
    open_(br.sock, path("data", "hello"))


def op(br, msg, command, want=0):
    check_result(request(br.sock, msg), want, command)


def bypass_broker(args, confine):
    """The test_bypass_policy build, with its policy check switched off."""
    if not BYPASS_BIN:
        raise ohtest.Skip("OPENHOOK_BYPASS_BIN is not set")
    check(os.access(BYPASS_BIN, os.X_OK), "OPENHOOK_BYPASS_BIN %s is not executable" % BYPASS_BIN)
    return Broker(args + ([] if confine else ["--no-confine"]), quiet=True,
                  bin=BYPASS_BIN, env={"OPENHOOK_TEST_BYPASS_POLICY": "1"})


# ---- What the kernel says about a confined broker ------------------------------

@case
def confined_broker_has_no_new_privs_and_a_seccomp_filter():
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d], quiet=True)
    wait_confined(br)
    st = status(br.pid)
    check_eq(st["NoNewPrivs"], "1", "NoNewPrivs")
    check_eq(st["Seccomp"], "0" if under_asan(br.pid) else "2", "Seccomp mode")


@case
def confined_broker_keeps_only_file_access_capabilities():
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d], quiet=True)
    wait_confined(br)
    st = status(br.pid)
    mine = int(status(os.getpid())["CapEff"], 16)
    for key in ("CapEff", "CapPrm", "CapBnd"):
        caps = int(st[key], 16)
        check_eq(caps & ~KEPT_CAPS, 0, "%s beyond file access (%s)" % (key, st[key]))
    check_eq(int(st["CapEff"], 16), mine & KEPT_CAPS, "CapEff: what we had, narrowed")
    check_eq(int(st["CapInh"], 16), 0, "CapInh")
    check_eq(int(st["CapAmb"], 16), 0, "CapAmb")


@case
def unconfined_broker_keeps_what_it_was_given():
    """The status checks above can fail: --no-confine leaves it all."""
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d, "--no-confine"], quiet=True)
    wait_confined(br)
    st = status(br.pid)
    check_eq(st["Seccomp"], "0", "Seccomp mode")
    check_eq(st["CapEff"], status(os.getpid())["CapEff"], "CapEff")


@case
def all_worker_threads_are_confined():
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d, "--threads", "3"], quiet=True)
    wait_confined(br)
    tasks = os.listdir("/proc/%d/task" % br.pid)
    check(len(tasks) > 1, "the broker runs worker threads (%d tasks)" % len(tasks))
    asan = under_asan(br.pid)
    for tid in tasks:
        st = status(int(tid))
        check_eq(st["NoNewPrivs"], "1", "NoNewPrivs of thread %s" % tid)
        check_eq(st["Seccomp"], "0" if asan else "2", "Seccomp of thread %s" % tid)
        check_eq(int(st["CapEff"], 16) & ~KEPT_CAPS, 0, "CapEff of thread %s" % tid)


# ---- Everything legitimate still works inside the walls ------------------------

@case
def confined_broker_serves_every_operation():
    d = data_tree()
    write(path("data", "old"), b"old\n")
    os.mkdir(path("data", "gone"))
    br = Broker(["--allow", "rwcd:%s/" % d], quiet=True)
    wait_confined(br)

    r = open_(br.sock, d + "/new", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(r.fd, b"written through the broker\n")
    check_eq(read(d + "/new"), b"written through the broker\n", "created file")
    r = open_(br.sock, d + "/hello", os.O_WRONLY | os.O_TRUNC)
    check_eq(read(d + "/hello"), b"", "truncated by O_TRUNC")
    open_(br.sock, d, os.O_RDONLY | os.O_DIRECTORY)

    op(br, mkdir_msg(d + "/dir"), CMD_MKDIR)
    check(os.path.isdir(d + "/dir"), "mkdir made the directory")
    op(br, symlink_msg("new", d + "/dir/link"), CMD_SYMLINK)
    check_eq(os.readlink(d + "/dir/link"), "new", "symlink target")
    op(br, link_msg(d + "/new", d + "/dir/hard"), CMD_LINK)
    check_eq(os.stat(d + "/dir/hard").st_ino, os.stat(d + "/new").st_ino, "hard link")
    op(br, rename_msg(d + "/old", d + "/dir/moved"), CMD_RENAME)
    check_eq(read(d + "/dir/moved"), b"old\n", "renamed across directories")
    op(br, truncate_msg(d + "/dir/moved", 1), CMD_TRUNCATE)
    check_eq(read(d + "/dir/moved"), b"o", "truncated")
    op(br, unlink_msg(d + "/dir/moved"), CMD_UNLINK)
    check(not os.path.lexists(d + "/dir/moved"), "unlinked")
    op(br, rmdir_msg(d + "/gone"), CMD_RMDIR)
    check(not os.path.lexists(d + "/gone"), "rmdir removed it")
    check(br.alive(), "broker still alive after every operation")


@case
def confined_broker_hands_out_new_connections():
    """CONNECT makes a socketpair after confinement."""
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d], sock_type=socket.SOCK_SEQPACKET, quiet=True)
    wait_confined(br)
    r = check_result(request(br.sock, message(CMD_CONNECT)), 0, CMD_CONNECT)
    conn = socket.socket(fileno=os.dup(r.fd))
    ohtest.defer(conn.close)
    check_eq(fd_read(open_(conn, d + "/hello").fd), b"hello\n", "read on the new connection")


@case
def confined_listening_broker_accepts_many_clients():
    d = data_tree()
    br = Broker(["--allow", "r:%s/" % d], mode="listen", quiet=True)
    for _ in range(5):
        s = br.connect()
        check_eq(fd_read(open_(s, d + "/hello").fd), b"hello\n")
    check(br.alive(), "broker alive after serving several clients")


@case
def exact_file_rules_work_when_confined():
    """r/w on an existing file is granted on the file itself, c on a file
    that does not exist yet on its directory (then read and written)."""
    d = data_tree()
    write(d + "/rw", b"rw\n")
    br = Broker(["--allow", "r:%s/hello" % d, "--allow", "rw:%s/rw" % d,
                 "--allow", "rwc:%s/made" % d], quiet=True)
    check_eq(fd_read(open_(br.sock, d + "/hello").fd), b"hello\n")
    r = open_(br.sock, d + "/rw", os.O_RDWR | os.O_APPEND)
    os.write(r.fd, b"more\n")
    check_eq(read(d + "/rw"), b"rw\nmore\n")
    r = open_(br.sock, d + "/made", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(r.fd, b"made\n")
    check_eq(read(d + "/made"), b"made\n")
    open_(br.sock, d + "/made", os.O_RDONLY)
    check(br.alive(), "broker alive")


@case
def rule_on_a_directory_made_after_start_is_served():
    """A rule may name a directory that does not exist yet: the broker
    makes it on request, or someone else does later, and serves it."""
    data_tree()
    work, later = path("work"), path("later", "deep")
    br = Broker(["--allow", "rwc:%s/" % work, "--allow", "rwc:%s/" % later], quiet=True)
    open_(br.sock, work + "/early", os.O_RDONLY, want=-errno.ENOENT)   # answered: confined now
    op(br, mkdir_msg(work), CMD_MKDIR)
    check(os.path.isdir(work), "mkdir through the broker made the directory")
    op(br, mkdir_msg(work + "/sub"), CMD_MKDIR)
    r = open_(br.sock, work + "/sub/new", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(r.fd, b"made inside\n")
    check_eq(read(work + "/sub/new"), b"made inside\n", "file created in the new directory")
    check_eq(fd_read(open_(br.sock, work + "/sub/new").fd), b"made inside\n", "and read back")

    os.makedirs(later)
    r = open_(br.sock, later + "/f", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(r.fd, b"later\n")
    check_eq(read(later + "/f"), b"later\n", "file created where someone else made the directory")

    # Landlock now reaches the nearest existing ancestor; the policy does not.
    open_(br.sock, path("beside"), os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    op(br, mkdir_msg(path("later", "other")), CMD_MKDIR, want=EACCES)
    check(not os.path.lexists(path("beside")), "nothing created beside the rule")
    check(not os.path.lexists(path("later", "other")), "no directory made beside the rule")
    check(br.alive(), "broker alive")


@case
def broker_never_serves_its_own_proc_entries():
    """With all of /proc allowed, /proc/self and the broker's own pid and
    thread ids still name the broker, not the client: refused."""
    data_tree()
    write(path("data", "x"))
    os.symlink("/proc/self/environ", path("data", "environ"))
    br = Broker(["--allow", "r:/proc/", "--allow", "r:%s/" % path("data"), "--threads", "3"],
                quiet=True)
    open_(br.sock, path("data", "x"))
    for p in ["/proc/self/environ", "/proc/thread-self/status", "/proc/%d/status" % br.pid,
              path("data", "environ")] + ["/proc/%s/status" % t for t in os.listdir("/proc/%d/task" % br.pid)]:
        open_(br.sock, p, want=EACCES)
    check(b"Pid:\t%d\n" % os.getpid() in fd_read(open_(br.sock, "/proc/%d/status" % os.getpid()).fd),
          "another process's entry is served")
    check(br.alive(), "broker alive")


@case
def outside_open_is_refused_and_broker_survives():
    d = data_tree()
    br = Broker(["--allow", "rwcd:%s/" % d], quiet=True)
    wait_confined(br)
    open_(br.sock, path("secret"), want=EACCES)
    open_(br.sock, "/etc/passwd", want=EACCES)
    open_(br.sock, path("outside-new"), os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    check(not os.path.lexists(path("outside-new")), "nothing created outside")
    check(br.alive(), "broker alive")


# ---- With the policy check switched off, Landlock still holds -----------------

@case
def bypassed_policy_without_confinement_opens_outside_files():
    """Shows the bypass is real: nothing but the broker's own check stood
    between the client and the file."""
    d = data_tree()
    br = bypass_broker(["--allow", "r:%s/" % d], confine=False)
    check_eq(fd_read(open_(br.sock, path("secret")).fd), b"secret\n", "outside file read")
    open_(br.sock, path("outside-new"), os.O_WRONLY | os.O_CREAT, 0o600)
    check(os.path.exists(path("outside-new")), "outside file created")


@case
def bypassed_policy_with_confinement_is_stopped_by_landlock():
    d = data_tree()
    br = bypass_broker(["--allow", "r:%s/" % d], confine=True)
    check_eq(fd_read(open_(br.sock, d + "/hello").fd), b"hello\n", "inside still served")
    open_(br.sock, path("secret"), want=EACCES)
    open_(br.sock, "/etc/passwd", want=EACCES)
    open_(br.sock, path("outside-new"), os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    check(not os.path.lexists(path("outside-new")), "nothing created outside")
    open_(br.sock, d + "/hello", os.O_WRONLY, want=EACCES)
    check_eq(read(d + "/hello"), b"hello\n", "r-only rule: not opened for writing")
    open_(br.sock, d + "/new", os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    check(not os.path.lexists(d + "/new"), "r-only rule: nothing created inside")
    check(br.alive(), "broker alive")


@case
def bypassed_policy_with_confinement_still_honours_an_exact_file_rule():
    d = data_tree()
    write(d + "/other", b"other\n")
    br = bypass_broker(["--allow", "r:%s/hello" % d], confine=True)
    check_eq(fd_read(open_(br.sock, d + "/hello").fd), b"hello\n", "the one file")
    open_(br.sock, d + "/other", want=EACCES)


# A policy of many rules, most of them files in directories another rule
# already grants: the broker's Landlock leaves those out (src/ll_set.c),
# and must still allow every rule's path all its letters and nothing
# outside the policy.
def many_rules_tree():
    rules = []
    for i in range(20):                 # files alone in their directory
        rules.append("allow r %s" % write(path("plain", "f%d" % i), b"plain\n"))
    write(path("plain", "unlisted"), b"unlisted\n")
    rules.append("allow rw %s/" % path("rw"))       # files inside a tree that grants them
    for i in range(20):
        rules.append("allow r %s" % write(path("rw", "f%d" % i), b"rw\n"))
    rules.append("allow rw %s" % write(path("rw", "sub", "g"), b"rw\n"))
    rules.append("allow r %s/" % path("ro"))        # one file there needs more
    rules.append("allow rw %s" % write(path("ro", "w"), b"w\n"))
    write(path("ro", "other"), b"other\n")
    rules.append("allow rw %s/" % path("lent", "missing"))  # lends rw to its directory
    for i in range(5):
        rules.append("allow r %s" % write(path("lent", "f%d" % i), b"lent\n"))
    write(path("secret"), b"secret\n")
    pf = path("many.policy")
    write(pf, ("\n".join(rules) + "\n").encode())
    return pf


@case
def bypassed_policy_of_many_redundant_rules_keeps_the_same_walls():
    pf = many_rules_tree()
    br = bypass_broker(["--policy", pf], confine=True)
    for i in range(20):
        check_eq(fd_read(open_(br.sock, path("plain", "f%d" % i)).fd), b"plain\n", "plain/f%d" % i)
        check_eq(fd_read(open_(br.sock, path("rw", "f%d" % i)).fd), b"rw\n", "rw/f%d" % i)
        open_(br.sock, path("rw", "f%d" % i), os.O_WRONLY).close()
    for i in range(5):
        check_eq(fd_read(open_(br.sock, path("lent", "f%d" % i)).fd), b"lent\n", "lent/f%d" % i)
    open_(br.sock, path("rw", "sub", "g"), os.O_WRONLY).close()
    open_(br.sock, path("ro", "w"), os.O_WRONLY).close()
    check_eq(fd_read(open_(br.sock, path("ro", "other")).fd), b"other\n", "ro/other")
    # What Landlock alone keeps out, with the policy check switched off.
    open_(br.sock, path("plain", "unlisted"), want=EACCES)
    open_(br.sock, path("plain", "f0"), os.O_WRONLY, want=EACCES)
    open_(br.sock, path("ro", "other"), os.O_WRONLY, want=EACCES)
    open_(br.sock, path("secret"), want=EACCES)
    open_(br.sock, path("rw", "new"), os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    check(not os.path.lexists(path("rw", "new")), "nothing created where no rule grants c")
    check(br.alive(), "broker alive")


# Enough rules of single files, each alone in its directory's rules, for
# the broker's Landlock ruleset to be built by two threads (src/landlock.c:
# LL_THREADED_MIN), each adding rules of its own: every one must still be
# in the walls, and nothing beside them.
WALL_DIRS, WALL_FILES = 12, 100


def wall_file_rule(d, i):
    """"allow r" of wall/dD/fI, made with its content D/I."""
    return "allow r %s" % write(path("wall", "d%d" % d, "f%d" % i), b"%d/%d\n" % (d, i))


def wall_policy(rules):
    """The policy of RULES, beside a secret no rule names."""
    write(path("secret"), b"secret\n")
    pf = path("wall.policy")
    write(pf, ("\n".join(rules) + "\n").encode())
    return pf


def wall_of_many_files():
    rules = []
    for d in range(WALL_DIRS):
        rules += [wall_file_rule(d, i) for i in range(WALL_FILES)]
        write(path("wall", "d%d" % d, "unlisted"), b"unlisted\n")
    return wall_policy(rules)


def every_wall_file_opens(br, dirs=WALL_DIRS, files=WALL_FILES):
    for d in range(dirs):
        for i in range(files):
            check_eq(fd_read(open_(br.sock, path("wall", "d%d" % d, "f%d" % i)).fd), b"%d/%d\n" % (d, i),
                     "wall/d%d/f%d" % (d, i))


@case
def confined_broker_of_many_file_rules_serves_each():
    br = Broker(["--policy", wall_of_many_files()], quiet=True)
    every_wall_file_opens(br)
    check(br.alive(), "broker alive")


@case
def bypassed_policy_of_many_file_rules_walls_in_each_and_no_other():
    br = bypass_broker(["--policy", wall_of_many_files()], confine=True)
    every_wall_file_opens(br)
    for d in range(WALL_DIRS):
        open_(br.sock, path("wall", "d%d" % d, "unlisted"), want=EACCES)
        open_(br.sock, path("wall", "d%d" % d, "f0"), os.O_WRONLY, want=EACCES)
    open_(br.sock, path("secret"), want=EACCES)
    check(br.alive(), "broker alive")


# Rules of files in many directories, one directory after the other in
# turn: the broker's Landlock rules of the files the load has listed are
# added while the rest is loaded (src/ceiling.h), in that order (the
# directories kept open by their path's hash, src/landlock.c), the others
# after it.  Rules further down give some of those files more letters (w
# on a file, or on a name below it, which lends w to the file), one of
# the directories all its files, and name a link in it to a file no rule
# grants: each file must get all its letters, whichever way its rules
# went, and the link's target nothing.
TURN_DIRS, TURN_FILES = 60, 20


def wall_loaded_in_turn():
    rules = [wall_file_rule(d, i) for i in range(TURN_FILES) for d in range(TURN_DIRS)]
    for d in range(TURN_DIRS):
        write(path("wall", "d%d" % d, "unlisted"), b"unlisted\n")
        rules.append("allow rw %s" % path("wall", "d%d" % d, "f%d" % (d % TURN_FILES)))
        rules.append("allow w %s" % path("wall", "d%d" % d, "f%d" % ((d + 1) % TURN_FILES), "below"))
    rules.append("allow rw %s/" % path("wall", "d0"))
    os.symlink(write(path("outside", "target"), b"target\n"), path("wall", "d0", "link"))
    rules.append("allow r %s" % path("wall", "d0", "link"))
    return wall_policy(rules)


@case
def bypassed_policy_of_file_rules_in_turn_walls_in_each_with_all_its_letters():
    br = bypass_broker(["--policy", wall_loaded_in_turn()], confine=True)
    every_wall_file_opens(br, TURN_DIRS, TURN_FILES)
    for d in range(TURN_DIRS):
        open_(br.sock, path("wall", "d%d" % d, "f%d" % (d % TURN_FILES)), os.O_WRONLY).close()
        open_(br.sock, path("wall", "d%d" % d, "f%d" % ((d + 1) % TURN_FILES)), os.O_WRONLY).close()
        if d > 0:
            open_(br.sock, path("wall", "d%d" % d, "unlisted"), want=EACCES)
            open_(br.sock, path("wall", "d%d" % d, "f%d" % ((d + 2) % TURN_FILES)), os.O_WRONLY, want=EACCES)
    open_(br.sock, path("wall", "d0", "unlisted"), os.O_WRONLY).close()
    open_(br.sock, path("outside", "target"), want=EACCES)
    open_(br.sock, path("secret"), want=EACCES)
    check(br.alive(), "broker alive")


# The broker of `openhook run` gets its floor from run itself (shared with
# the command, whose domain nests in it): with the policy check off, a
# program asking for a file outside the policy still gets nothing, in
# every mode -- seccomp mode's supervisor included, which opens files for
# the program.
PROBE = """
import os, sys
for p in sys.argv[1:]:
    try:
        fd = os.open(p, os.O_RDONLY)
        print("READ", os.read(fd, 100))
    except OSError as e:
        print("refused", p, e.errno)
try:
    os.close(os.open(sys.argv[1] + "-new", os.O_WRONLY | os.O_CREAT, 0o600))
    print("CREATED")
except OSError as e:
    print("create refused", e.errno)
"""


@ohtest.scenario_per_mode(("preload", "seccomp", "seccomp-noshim"))
def bypassed_policy_under_run_is_stopped_by_the_floor(mode):
    if not BYPASS_BIN:
        raise ohtest.Skip("OPENHOOK_BYPASS_BIN is not set")
    d = data_tree()
    # The test's files are in /tmp, where run's default t rules give the
    # floor every right (Landlock cannot tell the sandbox's files from
    # others': the policy engine does, DESIGN.md): without them here.
    argv = [BYPASS_BIN, "run"] + ohtest.mode_args(mode) + ["--no-private-tmp", "--allow", "r:%s/" % d, "--",
                                                          "/usr/bin/python3", "-c", PROBE,
                                                          path("secret"), d + "/hello"]
    p = subprocess.run(argv, env=ohtest.env({"OPENHOOK_TEST_BYPASS_POLICY": "1"}),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode(errors="replace")
    check("READ b'secret" not in out, "the floor let the bypassed broker read the secret:\n" + out)
    check("READ b'hello\\n'" in out, "the policy's own file is still served:\n" + out +
          p.stderr.decode(errors="replace"))
    check(not os.path.lexists(path("secret") + "-new"), "nothing created outside the floor")


if __name__ == "__main__":
    raise SystemExit(ohtest.main())

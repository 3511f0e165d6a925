#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9, items 1 to 3, under `openhook run` in every mode and over the
wire: a path outside the policy that does not exist is ENOENT (logged, no
denial line), one that exists EACCES; access() says what open() would do;
an ownership change that changes nothing succeeds, any other is EPERM; and
tar x, cp -a, rsync -a and install as root with their defaults, and git
without ~/.gitconfig, judged on disk."""

import json
import os
import shutil
import socket
import stat
import struct
import subprocess

import ohtest
from ohtest import Broker, case, check, check_eq, path, read, write

MODES = ("preload", "seccomp", "seccomp-noshim")
scenario = ohtest.scenario_per_mode(MODES)
PYTHON = "/usr/bin/python3"
CMD_ACCESS, CMD_CHOWN = 12, 13


def run(mode, cmd, allow=(), cwd=None, extra=(), env=None):
    return ohtest.run_confined(mode, cmd, allow, cwd=cwd, extra=ohtest.no_private_tmp() + list(extra), env_extra=env)


def probe(mode, script, allow, extra=()):
    """Runs SCRIPT (Python, printing one JSON value) confined; returns
    (value, stderr)."""
    status, out, err = run(mode, [PYTHON, "-c", script], allow, cwd=path("work"), extra=extra)
    check_eq(status, 0, "probe exit status (stderr: %s)" % err)
    return json.loads(out), err


# Each probe answers "ok" or the errno's name, for libc and raw calls.
PRELUDE = r"""
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
def res(fn):
    try:
        r = fn()
        return "ok" if r in (None, True) or isinstance(r, int) and r >= 0 else "false"
    except OSError as e:
        return errno.errorcode[e.errno]
def raw(nr, *args):
    args = [a.encode() if isinstance(a, str) else a for a in args]
    r = libc.syscall(nr, *args)
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
def lib(fn, *args):
    args = [a.encode() if isinstance(a, str) else a for a in args]
    r = fn(*args)
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
def acc(p, m, **kw):
    try:
        return "ok" if os.access(p, m, **kw) else "no"
    except OSError as e:
        return errno.errorcode[e.errno]
"""


def setup_tree():
    os.makedirs(path("work", "rw"), exist_ok=True)
    os.makedirs(path("work", "ro"), exist_ok=True)
    os.makedirs(path("outside", "dir"), exist_ok=True)
    write(path("work", "rw", "f"), "f\n")
    write(path("work", "ro", "g"), "g\n")
    write(path("work", "ro", "tool"), "#!/bin/sh\n")
    os.chmod(path("work", "ro", "tool"), 0o755)
    write(path("outside", "secret"), "secret\n")
    os.symlink("f", path("work", "rw", "link"))
    return [("rwcd", path("work", "rw") + "/"), ("r", path("work", "ro") + "/")]


# ---- Item 1: a missing path gets ENOENT -----------------------------------

@scenario
def missing_path_outside_the_policy_is_enoent_existing_one_eacces(mode):
    allow = setup_tree()
    log = path("log.json")
    out = path("outside")
    got, err = probe(mode, PRELUDE + r"""
O = %r
print(json.dumps({
    "missing": res(lambda: os.open(O + "/missing", os.O_RDONLY)),
    "missing dir": res(lambda: os.open(O + "/nodir/x", os.O_RDONLY)),
    "not a dir": res(lambda: os.open(O + "/secret/x", os.O_RDONLY)),
    "existing": res(lambda: os.open(O + "/secret", os.O_RDONLY)),
    "create in existing dir": res(lambda: os.open(O + "/dir/new", os.O_WRONLY | os.O_CREAT, 0o644)),
    "create in missing dir": res(lambda: os.open(O + "/nodir/new", os.O_WRONLY | os.O_CREAT, 0o644)),
    "mkdir": res(lambda: os.mkdir(O + "/dir/sub")),
    "unlink missing": res(lambda: os.unlink(O + "/missing")),
    "raw openat missing": raw(257, -100, O + "/missing2", 0, 0),
    "raw openat existing": raw(257, -100, O + "/secret", 0, 0),
    "stat missing": res(lambda: os.stat(O + "/missing")),
}))
""" % out, allow, extra=["--log", log])
    want = {"missing": "ENOENT", "missing dir": "ENOENT", "not a dir": "ENOTDIR", "existing": "EACCES",
            "create in existing dir": "EACCES", "create in missing dir": "ENOENT", "mkdir": "EACCES",
            "unlink missing": "ENOENT", "stat missing": "ENOENT",
            # Preload mode: Landlock answers raw calls, as for any program.
            "raw openat missing": "ENOENT" if mode != "preload" else got["raw openat missing"],
            "raw openat existing": "EACCES"}
    check_eq(got, want, "answers")
    check(not os.path.exists(path("outside", "dir", "new")), "outside/dir/new was created")
    check(not os.path.exists(path("outside", "dir", "sub")), "outside/dir/sub was created")
    # Denial lines for what exists, none for what does not; both logged.
    check("/outside/secret " in err, "no denial line for outside/secret:\n" + err)
    for name in ("missing ", "nodir/", "missing2"):
        check("outside/" + name not in err, "a denial line for outside/%s:\n%s" % (name, err))
    lines = [json.loads(l) for l in read(log).decode().splitlines()]
    missing = [l for l in lines if l.get("path") == out + "/missing" and l["command"] == "open"]
    check(missing and missing[0]["decision"] == "deny" and missing[0]["errno"] == "ENOENT",
          "--log has no denial with ENOENT for outside/missing: %r" % missing)


@case
def serve_keeps_eacces_for_missing_paths_unless_told():
    setup_tree()
    for extra, want in (((), -13), (("--reveal-missing",), -2)):
        br = Broker(["--allow", "r:" + path("work", "ro") + "/"], extra=extra)
        ohtest.open_(br.sock, path("outside", "missing"), want=want)
        ohtest.open_(br.sock, path("outside", "secret"), want=-13)
        ohtest.open_(br.sock, path("work", "ro", "missing"), want=-2)
        br.sock.close()
        br.wait()


# ---- Item 2: access() agrees with open() ----------------------------------

@scenario
def access_says_what_open_would_do(mode):
    allow = setup_tree()
    got, _ = probe(mode, PRELUDE + r"""
W, O = %r, %r
print(json.dumps({
    "shadow R_OK": acc("/etc/shadow", os.R_OK),
    "shadow F_OK": acc("/etc/shadow", os.F_OK),
    "outside missing F_OK": acc(O + "/missing", os.F_OK),
    "outside R_OK": acc(O + "/secret", os.R_OK),
    "ro R_OK": acc(W + "/ro/g", os.R_OK),
    "ro W_OK": acc(W + "/ro/g", os.W_OK),
    "ro missing F_OK": acc(W + "/ro/nothing", os.F_OK),
    "rw W_OK": acc(W + "/rw/f", os.R_OK | os.W_OK),
    "rw dir W_OK": acc(W + "/rw", os.W_OK | os.X_OK),
    "ro dir W_OK": acc(W + "/ro", os.W_OK),
    "ro dir X_OK": acc(W + "/ro", os.X_OK),
    "tool X_OK": acc(W + "/ro/tool", os.X_OK),
    "ls X_OK": acc("/usr/bin/ls", os.X_OK),
    "ls W_OK": acc("/usr/bin/ls", os.W_OK),
    "dev null W_OK": acc("/dev/null", os.W_OK),
    "link nofollow": acc(W + "/rw/link", os.F_OK, follow_symlinks=False),
    "effective ids": acc("/etc/shadow", os.R_OK, effective_ids=True),
    "euidaccess": lib(libc.euidaccess, "/etc/shadow", os.R_OK),
    "eaccess": lib(libc.eaccess, W + "/ro/g", os.R_OK),
    "raw access shadow": raw(21, "/etc/shadow", os.R_OK),
    "raw faccessat2 rw": raw(439, -100, W + "/rw/f", os.W_OK, 0x200),
    "raw access ls X_OK": raw(21, "/usr/bin/ls", os.X_OK),
    "bad mode": raw(21, W + "/ro/g", 8),
    "open shadow": res(lambda: os.open("/etc/shadow", os.O_RDONLY)),
    "open ro for writing": res(lambda: os.open(W + "/ro/g", os.O_WRONLY)),
}))
""" % (path("work"), path("outside")), allow)
    want = {"shadow R_OK": "no", "shadow F_OK": "ok", "outside missing F_OK": "no", "outside R_OK": "no",
            "ro R_OK": "ok", "ro W_OK": "no", "ro missing F_OK": "no", "rw W_OK": "ok", "rw dir W_OK": "ok",
            "ro dir W_OK": "no", "ro dir X_OK": "ok", "tool X_OK": "no", "ls X_OK": "ok", "ls W_OK": "no",
            "dev null W_OK": "ok", "link nofollow": "ok", "effective ids": "no", "euidaccess": "EACCES",
            "eaccess": "ok", "raw access shadow": "EACCES", "raw faccessat2 rw": "ok",
            "raw access ls X_OK": "ok", "bad mode": "EINVAL", "open shadow": "EACCES",
            "open ro for writing": "EACCES"}
    check_eq(got, want, "answers")


@case
def access_and_chown_over_the_wire():
    setup_tree()
    br = Broker(["--allow", "r:" + path("work", "ro") + "/", "--allow", "rw:" + path("work", "rw", "f")])

    def ask(command, payload):
        reply = ohtest.request(br.sock, ohtest.message(command, payload))
        check_eq(reply.command, command, "command answered")
        check_eq(reply.fds, [], "fds attached")
        return reply.result

    def access(p, m, flags=0):
        return ask(CMD_ACCESS, struct.pack("=II", m, flags) + ohtest.pstr(p))

    def chown(p, uid, gid, flags=0):
        return ask(CMD_CHOWN, struct.pack("=III", uid, gid, flags) + ohtest.pstr(p))

    st = os.stat(path("work", "rw", "f"))
    check_eq(access(path("work", "ro", "g"), os.R_OK), 0, "R_OK of r")
    check_eq(access(path("work", "ro", "g"), os.W_OK), -13, "W_OK of r")
    check_eq(access(path("work", "ro", "tool"), os.X_OK), -13, "X_OK of a file")
    check_eq(access(path("work", "ro"), os.X_OK), 0, "X_OK of a directory")
    check_eq(access(path("outside", "secret"), os.F_OK), -13, "F_OK outside")
    check_eq(access(path("outside", "missing"), os.F_OK), -13, "F_OK outside, missing")
    check_eq(access(path("work", "ro", "g"), 8), -22, "bad mode")
    check_eq(access(path("work", "ro", "g"), os.R_OK, 0x4000), -22, "bad flags")
    check_eq(chown(path("work", "rw", "f"), st.st_uid, st.st_gid), 0, "chown to the same")
    check_eq(chown(path("work", "rw", "f"), 0xffffffff, 0xffffffff), 0, "chown -1 -1")
    check_eq(chown(path("work", "rw", "f"), st.st_uid + 1, 0xffffffff), -1, "chown to another owner")
    check_eq(chown(path("work", "rw", "f"), 0xffffffff, st.st_gid + 1), -1, "chown to another group")
    check_eq(chown(path("work", "ro", "g"), 0xffffffff, 0xffffffff), -1, "chown needs w")
    check_eq(chown(path("work", "rw", "f"), 0xffffffff, 0xffffffff, 0x1), -22, "chown bad flags")
    # The connection is still usable; nothing changed on disk.
    ohtest.open_(br.sock, path("work", "ro", "g"))
    after = os.stat(path("work", "rw", "f"))
    check_eq((after.st_uid, after.st_gid), (st.st_uid, st.st_gid), "owner on disk")
    br.sock.close()
    br.wait()


# ---- Item 3: ownership changes that change nothing -------------------------

@scenario
def chown_to_the_owner_there_is_succeeds_any_other_is_eperm(mode):
    allow = setup_tree()
    os.chmod(path("work", "rw", "f"), 0o4755)
    st = os.stat(path("work", "rw", "f"))
    got, _ = probe(mode, PRELUDE + r"""
W, U, G = %r, %d, %d
print(json.dumps({
    "chown same": res(lambda: os.chown(W + "/rw/f", U, G)),
    "chown keep": res(lambda: os.chown(W + "/rw/f", -1, -1)),
    "lchown link": res(lambda: os.lchown(W + "/rw/link", U, G)),
    "fchownat": res(lambda: os.chown("f", U, -1, dir_fd=os.open(W + "/rw", os.O_RDONLY), follow_symlinks=False)),
    "raw chown same": raw(92, W + "/rw/f", U, G),
    "raw fchownat same": raw(260, -100, W + "/rw/f", U, G, 0),
    "chown dir": res(lambda: os.chown(W + "/rw", U, G)),
    "chown other owner": res(lambda: os.chown(W + "/rw/f", 65534, -1)),
    "chown other group": res(lambda: os.chown(W + "/rw/f", -1, 65534)),
    "raw chown other": raw(92, W + "/rw/f", 65534, 65534),
    "chown read-only": res(lambda: os.chown(W + "/ro/g", U, G)),
    "chown outside": res(lambda: os.chown(%r, U, G)),
}))
""" % (path("work"), st.st_uid, st.st_gid, path("outside", "secret")), allow)
    want = {"chown same": "ok", "chown keep": "ok", "lchown link": "ok", "fchownat": "ok",
            "raw chown same": "ok", "raw fchownat same": "ok", "chown dir": "ok",
            "chown other owner": "EPERM", "chown other group": "EPERM", "raw chown other": "EPERM",
            "chown read-only": "EPERM", "chown outside": "EPERM"}
    check_eq(got, want, "answers")
    for p in (path("work", "rw", "f"), path("work", "ro", "g"), path("outside", "secret")):
        after = os.lstat(p)
        check_eq((after.st_uid, after.st_gid), (st.st_uid, st.st_gid), "owner of %s on disk" % p)
    # As chown(2): a change that restates the owner still drops setuid.
    check_eq(stat.S_IMODE(os.stat(path("work", "rw", "f")).st_mode), 0o755, "mode after chown")


# ---- Real programs as root, with their defaults ----------------------------

def need_root():
    if os.geteuid() != 0:
        raise ohtest.Skip("needs root: tar x, cp -a and rsync -a restore ownership only as root")


def need(program):
    if not shutil.which(program):
        raise ohtest.Skip("%s is not installed (scripts/install-deps)" % program)


def source_tree():
    src = path("src")
    os.makedirs(os.path.join(src, "sub", "deeper"))
    write(os.path.join(src, "a.txt"), "alpha\n")
    write(os.path.join(src, "sub", "b.bin"), bytes(range(256)) * 64)
    write(os.path.join(src, "sub", "deeper", "c"), "c\n")
    os.symlink("a.txt", os.path.join(src, "link"))
    os.chmod(os.path.join(src, "a.txt"), 0o640)
    os.chmod(os.path.join(src, "sub"), 0o750)
    os.chmod(os.path.join(src, "sub", "deeper", "c"), 0o700)
    for d, dirs, files in os.walk(src, topdown=False):
        for n in files + dirs:
            os.utime(os.path.join(d, n), (1500000000, 1500000000), follow_symlinks=False)
    os.utime(src, (1500000000, 1500000000))
    return src


def same_tree(src, dst, times=True):
    """DST holds SRC's names, contents, modes, owners and (TIMES) mtimes."""
    def entries(root):
        out = {}
        for d, dirs, files in os.walk(root):
            for n in dirs + files:
                p = os.path.join(d, n)
                st = os.lstat(p)
                body = os.readlink(p) if stat.S_ISLNK(st.st_mode) else \
                    read(p) if stat.S_ISREG(st.st_mode) else None
                out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, body,
                                                 int(st.st_mtime) if times else 0)
        return out
    check_eq(entries(dst), entries(src), "copy of the tree")


def copy_allow():
    os.makedirs(path("out"))
    return [("r", path("src") + "/"), ("rwcd", path("out") + "/")]


PROGRAM_MODES = ("preload", "seccomp")
program = ohtest.scenario_per_mode(PROGRAM_MODES)


@program
def tar_x_as_root_restores_the_owner_it_read(mode):
    need_root()
    src = source_tree()
    allow = copy_allow()
    subprocess.run(["tar", "cf", path("t.tar"), "-C", src, "."], check=True)
    allow.append(("r", path("t.tar")))
    os.makedirs(path("out", "tar"))
    ohtest.ok(run(mode, ["tar", "xf", path("t.tar"), "-C", path("out", "tar")], allow, cwd=path()), "tar x")
    same_tree(src, path("out", "tar"))


@program
def cp_a_as_root_copies_owner_mode_acl_and_times(mode):
    need_root()
    src = source_tree()
    allow = copy_allow()
    ohtest.ok(run(mode, ["cp", "-a", src, path("out", "cp")], allow, cwd=path()), "cp -a")
    same_tree(src, path("out", "cp"))


@program
def rsync_a_as_root_copies_owner_mode_and_times(mode):
    need_root()
    need("rsync")
    src = source_tree()
    allow = copy_allow()
    ohtest.ok(run(mode, ["rsync", "-a", src + "/", path("out", "rs") + "/"], allow, cwd=path()), "rsync -a")
    same_tree(src, path("out", "rs"))


@program
def install_as_root_sets_the_mode(mode):
    need_root()
    source_tree()
    allow = copy_allow()
    ohtest.ok(run(mode, ["install", "-m", "0754", path("src", "a.txt"), path("out", "inst")], allow,
                  cwd=path()), "install")
    ohtest.ok(run(mode, ["install", "-d", "-m", "0700", path("out", "d1", "d2")], allow, cwd=path()),
              "install -d")
    check_eq(read(path("out", "inst")), b"alpha\n", "installed content")
    check_eq(stat.S_IMODE(os.stat(path("out", "inst")).st_mode), 0o754, "installed mode")
    check_eq(stat.S_IMODE(os.stat(path("out", "d1", "d2")).st_mode), 0o700, "installed directory mode")


@scenario
def git_works_without_a_gitconfig_outside_the_policy(mode):
    need("git")
    home = path("home")             # no .gitconfig, and no rule for it
    os.makedirs(home)
    repo = path("repo")
    os.makedirs(repo)
    write(os.path.join(repo, "file.txt"), "content\n")
    allow = [("rwcd", repo + "/")]
    env = {"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config")}
    # git dies when /etc/gitconfig exists but cannot be read, with openhook
    # or without, now that access() tells it so: the policy a user writes.
    if os.path.exists("/etc/gitconfig"):
        allow.append(("r", "/etc/gitconfig"))
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org"]
    for cmd in (git + ["init", "-q", "."], git + ["add", "file.txt"], git + ["commit", "-q", "-m", "first"]):
        status, out, err = run(mode, cmd, allow, cwd=repo, env=env)
        check_eq(status, 0, "%s exit status (stderr: %s)" % (" ".join(cmd[5:]), err))
        check(".gitconfig" not in err, "a denial for ~/.gitconfig:\n" + err)
    log = subprocess.run(["git", "-C", repo, "log", "--format=%s"], capture_output=True, text=True, check=True)
    check_eq(log.stdout, "first\n", "git log on disk")


ohtest.main()

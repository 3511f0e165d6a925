#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real, unmodified programs under `openhook run` (issue 3): coreutils, sh,
python3, sqlite3, gcc, find, grep and qemu-img/qemu-io, each once with the
policy granting what it needs and once without, checking the outcome on
disk, the output and the exit status.

Every scenario runs once per mode in OPENHOOK_TEST_MODES (default
"preload"), so the seccomp mode reuses them all."""

import errno
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import ohtest
from ohtest import BIN, case, check, check_eq, path, read, write

MODES = os.environ.get("OPENHOOK_TEST_MODES", "preload").split()



scenario = ohtest.scenario_per_mode(MODES)
ok = ohtest.ok
refused = ohtest.refused


def run(mode, cmd, allow=(), cwd=None, env=None, stdin=None, direct=(), timeout=120):
    """Runs CMD under `openhook run`, granting ALLOW ((perms, path), ...)."""
    return ohtest.run_confined(mode, cmd, allow, cwd=cwd, env_extra=env, stdin=stdin,
                               direct=direct, timeout=timeout)


def work(*parts):
    return path("work", *parts)


def setup():
    """work/ is granted in full; outside/ holds files no rule names."""
    os.makedirs(work(), exist_ok=True)
    write(work("in.txt"), "hello\n")
    write(path("outside", "secret.txt"), "secret\n")
    return [("rwcd", work() + "/")]


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, dirs, files in os.walk(root) for n in dirs + files)


def sha(p):
    return hashlib.sha256(read(p)).hexdigest()


# ---- coreutils ----------------------------------------------------------

@scenario
def cat_prints_an_allowed_file(mode):
    allow = setup()
    check_eq(ok(run(mode, ["cat", "in.txt"], allow, cwd=work()), "cat"), "hello\n")


@scenario
def cat_of_a_file_outside_the_policy_is_refused(mode):
    allow = setup()
    out = refused(run(mode, ["cat", "../outside/secret.txt"], allow, cwd=work()), "cat", 1)
    check_eq(out, "")


@scenario
def cp_copies_files_and_trees_into_the_work_dir(mode):
    allow = setup()
    write(work("src", "a", "b.txt"), "deep\n")
    ok(run(mode, ["cp", "in.txt", "copy.txt"], allow, cwd=work()), "cp")
    ok(run(mode, ["cp", "-r", "src", "dst"], allow, cwd=work()), "cp -r")
    check_eq(read(work("copy.txt")), b"hello\n")
    check_eq(read(work("dst", "a", "b.txt")), b"deep\n")


@scenario
def cp_into_a_directory_outside_the_policy_creates_nothing(mode):
    allow = setup()
    refused(run(mode, ["cp", "in.txt", "../outside/copy.txt"], allow, cwd=work()), "cp")
    check_eq(tree(path("outside")), ["secret.txt"])


@scenario
def mv_renames_inside_the_work_dir(mode):
    allow = setup()
    ok(run(mode, ["mv", "in.txt", "moved.txt"], allow, cwd=work()), "mv")
    check_eq(tree(work()), ["moved.txt"])
    check_eq(read(work("moved.txt")), b"hello\n")


@scenario
def mv_without_delete_permission_leaves_the_source(mode):
    setup()
    refused(run(mode, ["mv", "in.txt", "moved.txt"], [("rwc", work() + "/")], cwd=work()), "mv")
    check_eq(tree(work()), ["in.txt"])


@scenario
def rm_r_removes_a_tree(mode):
    allow = setup()
    write(work("t", "u", "v.txt"), "x")
    ok(run(mode, ["rm", "-r", "t", "in.txt"], allow, cwd=work()), "rm -r")
    check_eq(tree(work()), [])


@scenario
def rm_without_delete_permission_keeps_the_file(mode):
    setup()
    refused(run(mode, ["rm", "-f", "in.txt"], [("rw", work() + "/")], cwd=work()), "rm")
    check(os.path.exists(work("in.txt")), "in.txt was removed")


@scenario
def mkdir_p_creates_nested_directories(mode):
    allow = setup()
    ok(run(mode, ["mkdir", "-p", "a/b/c"], allow, cwd=work()), "mkdir -p")
    check(os.path.isdir(work("a", "b", "c")), "a/b/c missing")


@scenario
def mkdir_outside_the_policy_creates_nothing(mode):
    allow = setup()
    refused(run(mode, ["mkdir", "-p", path("outside", "x", "y")], allow, cwd=work()), "mkdir")
    check_eq(tree(path("outside")), ["secret.txt"])


@scenario
def ls_lists_an_allowed_directory(mode):
    allow = setup()
    write(work("b.txt"))
    check_eq(ok(run(mode, ["ls", "-1"], allow, cwd=work()), "ls"), "b.txt\nin.txt\n")


@scenario
def ls_of_a_directory_outside_the_policy_is_refused(mode):
    allow = setup()
    out = refused(run(mode, ["ls", path("outside")], allow, cwd=work()), "ls", 2)
    check("secret" not in out, "ls listed the refused directory")


@scenario
def touch_creates_a_file(mode):
    allow = setup()
    ok(run(mode, ["touch", "new.txt"], allow, cwd=work()), "touch")
    check_eq(read(work("new.txt")), b"")


@scenario
def touch_outside_the_policy_creates_nothing(mode):
    allow = setup()
    refused(run(mode, ["touch", path("outside", "new.txt")], allow, cwd=work()), "touch", 1)
    check_eq(tree(path("outside")), ["secret.txt"])


@scenario
def ln_makes_symbolic_and_hard_links(mode):
    allow = setup()
    ok(run(mode, ["ln", "-s", "in.txt", "sym"], allow, cwd=work()), "ln -s")
    ok(run(mode, ["ln", "in.txt", "hard"], allow, cwd=work()), "ln")
    check_eq(os.readlink(work("sym")), "in.txt")
    check_eq(os.stat(work("hard")).st_ino, os.stat(work("in.txt")).st_ino)
    check_eq(ok(run(mode, ["cat", "sym"], allow, cwd=work()), "cat sym"), "hello\n")


@scenario
def ln_into_a_directory_outside_the_policy_is_refused(mode):
    allow = setup()
    refused(run(mode, ["ln", "-s", "x", path("outside", "sym")], allow, cwd=work()), "ln -s")
    refused(run(mode, ["ln", "in.txt", path("outside", "hard")], allow, cwd=work()), "ln")
    check_eq(tree(path("outside")), ["secret.txt"])


@scenario
def tar_extracts_a_tree_with_its_directory_modes(mode):
    # tar sets a directory's mode with fchmodat(AT_SYMLINK_NOFOLLOW), which
    # glibc turns into chmod("/proc/self/fd/N") of an O_PATH fd.
    allow = setup()
    write(work("src", "sub", "f.txt"), "x\n")
    os.chmod(work("src", "sub"), 0o750)
    os.chmod(work("src", "sub", "f.txt"), 0o640)
    ok(run(mode, ["tar", "cf", "t.tar", "src"], allow, cwd=work()), "tar cf")
    os.mkdir(work("x"))
    ok(run(mode, ["tar", "xf", "t.tar", "--no-same-owner", "-C", "x"], allow, cwd=work()), "tar xf")
    check_eq(oct(os.stat(work("x", "src", "sub")).st_mode & 0o7777), "0o750")
    check_eq(oct(os.stat(work("x", "src", "sub", "f.txt")).st_mode & 0o7777), "0o640")
    check_eq(read(work("x", "src", "sub", "f.txt")), b"x\n")


@scenario
def rsync_copies_a_tree_walking_from_the_root_with_o_path(mode):
    # Debian's rsync reaches the destination one component at a time from
    # / with openat(O_PATH|O_NOFOLLOW|O_DIRECTORY).
    allow = setup()
    write(work("src", "sub", "f.txt"), "x\n")
    write(work("src", "g.txt"), "g\n")
    ok(run(mode, ["rsync", "-a", "--no-owner", "--no-group", work("src") + "/", work("dst") + "/"],
           allow, cwd=work()), "rsync -a")
    check_eq(read(work("dst", "sub", "f.txt")), b"x\n")
    check_eq(read(work("dst", "g.txt")), b"g\n")
    check(not os.path.exists(path("outside", "src")), "rsync wrote outside the policy")


@scenario
def chmod_through_an_own_fd_needs_w_on_the_file_it_names(mode):
    allow = setup() + [("r", path("outside", "secret.txt"))]
    os.chmod(path("outside", "secret.txt"), 0o600)
    script = "chmod 666 /proc/self/fd/3 3<../outside/secret.txt"
    refused(run(mode, ["sh", "-c", script], allow, cwd=work()), "chmod")
    check_eq(oct(os.stat(path("outside", "secret.txt")).st_mode & 0o7777), "0o600")


# ---- sh ---------------------------------------------------------------------

@scenario
def sh_redirections_write_append_and_read(mode):
    allow = setup()
    script = "echo one > out.txt; echo two >> out.txt; while read l; do echo got $l; done < out.txt"
    check_eq(ok(run(mode, ["sh", "-c", script], allow, cwd=work()), "sh"), "got one\ngot two\n")
    check_eq(read(work("out.txt")), b"one\ntwo\n")


@scenario
def sh_redirection_outside_the_policy_creates_nothing(mode):
    allow = setup()
    status, out, err = run(mode, ["sh", "-c", "echo x > ../outside/new.txt"], allow, cwd=work())
    check(status != 0 and "Permission denied" in err, "sh redirection was not refused: %s" % err)
    check_eq(tree(path("outside")), ["secret.txt"])


@scenario
def dev_stdin_and_proc_self_fd_mean_the_program_itself(mode):
    allow = setup()
    out = ok(run(mode, ["sh", "-c", "cat /dev/stdin; exec 3< in.txt; cat /proc/self/fd/3 /dev/fd/3"],
                 allow, cwd=work(), stdin="from a pipe\n"), "cat /dev/stdin")
    check_eq(out, "from a pipe\nhello\nhello\n")


@scenario
def dev_fd_of_a_file_outside_the_policy_is_not_reopened(mode):
    allow = setup()
    # The shell opens the file before the command starts; only the fd is
    # handed in, and reopening it by name must still be refused.
    status, out, err = run(mode, ["sh", "-c", "exec 3< ../outside/secret.txt; cat /dev/fd/3"],
                           allow, cwd=work())
    check(status != 0 and "secret" not in out, "secret read: %r" % out)


# ---- python3 ------------------------------------------------------------------

PY_THREADS_AND_FORKS = r"""
import os, threading
def worker(i):
    for j in range(20):
        with open("t%d_%d" % (i, j), "w") as f:
            f.write("%d" % (i * j))
        with open("t%d_%d" % (i, j)) as f:
            assert f.read() == "%d" % (i * j)
threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
pids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        with open("child%d" % i, "w") as f:
            f.write("pid %d" % os.getpid())
        with open("child%d" % i) as f:
            os._exit(0 if f.read() == "pid %d" % os.getpid() else 3)
    pids.append(pid)
print([os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids], len(os.listdir(".")))
"""


@scenario
def python_threads_and_forked_children_open_files(mode):
    allow = setup()
    out = ok(run(mode, ["/usr/bin/python3", "-c", PY_THREADS_AND_FORKS], allow, cwd=work()), "python3")
    check_eq(out, "[0, 0, 0, 0] 165\n")
    check_eq(read(work("t7_19")), b"133")


@scenario
def python_open_outside_the_policy_raises_permission_error(mode):
    allow = setup()
    code = "import sys\ntry:\n open(sys.argv[1], 'w')\nexcept PermissionError:\n sys.exit(7)\n"
    status, out, err = run(mode, ["/usr/bin/python3", "-c", code, path("outside", "new.txt")],
                           allow, cwd=work())
    check_eq(status, 7, "exit status (7: PermissionError):\n" + err)
    check_eq(tree(path("outside")), ["secret.txt"])


PY_CLOSE_INHERITED = r"""
import os
open("in.txt").read()                       # this process has its connection
os.close(int(os.environ["OPENHOOK_FD"]))
print(open("in.txt").read().strip())        # still served
pid = os.fork()
if pid == 0:
    try:
        open("in.txt")
        os._exit(1)
    except PermissionError:
        os._exit(0)                         # no way to a new connection: fail closed
print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@scenario
def closing_the_inherited_socket_fails_closed_in_new_processes(mode):
    if mode != "preload":
        return                               # OPENHOOK_FD is the shim's
    allow = setup()
    out = ok(run(mode, ["/usr/bin/python3", "-c", PY_CLOSE_INHERITED], allow, cwd=work()), "python3")
    check_eq(out, "hello\nchild 0\n")


PRELOAD = os.environ.get("OPENHOOK_PRELOAD") or os.path.join(
    os.path.dirname(os.path.abspath(BIN)), "..", "preload", "libopenhook-preload.so")


def seed_broker(sock):
    """A broker that speaks only the seed protocol: QEMU_OPEN of anything
    under work/, -ENOSYS for every extension (CONNECT included)."""
    while True:
        data = sock.recv(ohtest.MSG_MAX)
        if not data:
            return
        size, command = struct.unpack_from("=II", data)
        fds, result = [], -errno.ENOSYS
        if command == ohtest.CMD_OPEN:
            flags, mode, n = struct.unpack_from("=IIH", data, 8)
            name = data[18:18 + n].decode()
            result = -errno.EACCES
            if name.startswith(work() + "/"):
                try:
                    fds, result = [os.open(name, flags & ~os.O_CLOEXEC, mode)], 0
                except OSError as e:
                    result = -e.errno
        socket.send_fds(sock, [struct.pack("=IIi", 12, command, result)], fds)
        for fd in fds:
            os.close(fd)


@scenario
def against_a_seed_only_broker_opens_work_and_extensions_fail_clearly(mode):
    if mode != "preload":
        return
    setup()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ohtest.defer(ours.close)
    t = threading.Thread(target=seed_broker, args=(ours,), daemon=True)
    t.start()
    e = dict(os.environ, OPENHOOK_FD=str(theirs.fileno()), LD_PRELOAD=PRELOAD)
    p = subprocess.run(["sh", "-c", "cat in.txt; mkdir new; echo mkdir=$?; rm in.txt; echo rm=$?"],
                       cwd=work(), env=e, pass_fds=[theirs.fileno()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    theirs.close()
    out, err = p.stdout.decode(), p.stderr.decode()
    check_eq(out, "hello\nmkdir=1\nrm=1\n")
    check("Function not implemented" in err, err)
    check_eq(err.count("does not implement mkdir"), 1)
    check_eq(err.count("does not implement unlink"), 1)
    check_eq(tree(work()), ["in.txt"])


# ---- the libc calls the shim rebuilds ---------------------------------------

SHIM_API_C = r"""/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Exercises the libc calls the preload shim rebuilds (fopen modes, freopen,
 * the mkstemp family, tmpfile, scandir, nftw, glob) inside the current
 * directory, and the same calls on OUTSIDE (argv[1]), which the policy does
 * not grant.  Prints one "name=value" line per check; the test compares. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nftw_files;

static int count(const char *p, const struct stat *st, int type, struct FTW *f)
{
        if (type == FTW_F)
                nftw_files++;
        return 0;
}

static const char *err(int ok)
{
        return ok ? "ok" : strerror(errno);
}

static void file_calls(void)
{
        char line[64] = "";
        FILE *f = fopen("f.txt", "wx");

        fputs("one\n", f);
        fclose(f);
        printf("fopen_x_on_existing=%s\n", err(fopen("f.txt", "wx") != NULL));
        f = fopen("f.txt", "a+e");
        fputs("two\n", f);
        rewind(f);
        printf("fopen_a_plus_reads=%s", fgets(line, sizeof(line), f) ? line : "nothing\n");
        printf("fopen_e_cloexec=%d\n", fcntl(fileno(f), F_GETFD) & FD_CLOEXEC);
        fclose(f);
        f = fopen("f.txt", "r");
        f = freopen("g.txt", "w", f);
        fputs("via freopen\n", f);
        fclose(f);

        char t[] = "tmpXXXXXX", s[] = "sufXXXXXX.c", d[] = "dirXXXXXX";
        int fd = mkstemp(t);
        printf("mkstemp=%s\n", err(fd >= 0 && strcmp(t, "tmpXXXXXX") != 0 && access(t, F_OK) == 0));
        printf("mkstemps=%s\n", err(mkstemps(s, 2) >= 0 && strcmp(s + 9, ".c") == 0));
        printf("mkdtemp=%s\n", err(mkdtemp(d) && access(d, F_OK) == 0));
        FILE *tf = tmpfile();
        if (tf) {
                fputs("anonymous\n", tf);
                rewind(tf);
        }
        printf("tmpfile_reads=%s", tf && fgets(line, sizeof(line), tf) ? line : "nothing\n");

        errno = 1234;
        fd = open("f.txt", O_RDONLY);
        printf("errno_kept_on_success=%d\n", fd >= 0 && errno == 1234);
}

static void dir_calls(void)
{
        struct dirent **names;
        glob_t g;
        int n = scandir(".", &names, NULL, alphasort);

        printf("scandir_first=%s\n", n > 2 ? names[2]->d_name : "none");
        if (mkdir("sub", 0755) == 0 && mkdir("sub/deeper", 0755) == 0)
                fclose(fopen("sub/deeper/leaf.txt", "w"));
        nftw(".", count, 8, FTW_PHYS);
        printf("nftw_files=%d\n", nftw_files);
        printf("glob=%d\n", glob("sub/*/*.txt", 0, NULL, &g) == 0 ? (int) g.gl_pathc : -1);
}

static void outside_calls(const char *outside)
{
        char p[4096], t[4096];
        struct dirent **names;
        glob_t g;

        snprintf(p, sizeof(p), "%s/new.txt", outside);
        printf("outside_fopen_w=%s\n", err(fopen(p, "w") != NULL));
        snprintf(p, sizeof(p), "%s/newdir", outside);
        printf("outside_mkdir=%s\n", err(mkdir(p, 0755) == 0));
        printf("outside_scandir=%s\n", err(scandir(outside, &names, NULL, alphasort) >= 0));
        snprintf(t, sizeof(t), "%s/tXXXXXX", outside);
        printf("outside_mkstemp=%s\n", err(mkstemp(t) >= 0));
        snprintf(p, sizeof(p), "%s/*", outside);
        printf("outside_glob=%s\n", glob(p, GLOB_ERR, NULL, &g) == GLOB_ABORTED ? "aborted" : "listed");
        snprintf(p, sizeof(p), "%s/existing.txt", outside);
        printf("outside_unlink=%s\n", err(unlink(p) == 0));
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        file_calls();
        dir_calls();
        outside_calls(argv[1]);
        return 0;
}
"""


@scenario
def libc_file_and_directory_calls_work_inside_and_are_refused_outside(mode):
    allow = setup()
    write(path("outside", "existing.txt"), "x")
    os.makedirs(path("bin"))
    write(path("bin", "shim_api.c"), SHIM_API_C)
    subprocess.run(["gcc", "-O2", "-o", path("bin", "shim_api"), path("bin", "shim_api.c")], check=True)
    if mode == "seccomp-noshim":
        # glibc's own tmpfile() ignores TMPDIR: it opens /tmp with O_TMPFILE
        # (c and w on /tmp itself, which names no file).  The shim, in
        # preload mode, makes it honour TMPDIR instead, so there the policy
        # stays without /tmp.
        allow = allow + [("cw", "/tmp")]
    out = ok(run(mode, [path("bin", "shim_api"), path("outside")], allow, cwd=work(),
                 env={"TMPDIR": work()}, direct=[path("bin")]), "shim_api")
    got = dict(line.split("=", 1) for line in out.splitlines())
    want = {
        "fopen_x_on_existing": "File exists", "fopen_a_plus_reads": "one", "fopen_e_cloexec": "1",
        "mkstemp": "ok", "mkstemps": "ok", "mkdtemp": "ok", "tmpfile_reads": "anonymous",
        "errno_kept_on_success": "1", "nftw_files": "6", "glob": "1",
        "outside_fopen_w": "Permission denied", "outside_mkdir": "Permission denied",
        "outside_scandir": "Permission denied", "outside_mkstemp": "Permission denied",
        "outside_glob": "aborted", "outside_unlink": "Permission denied",
    }
    for k, v in want.items():
        check_eq(got.get(k), v, k)
    check(got["scandir_first"].startswith("dir"), "scandir order: %s" % got["scandir_first"])
    check_eq(read(work("g.txt")), b"via freopen\n")
    check_eq(read(work("f.txt")), b"one\ntwo\n")
    check_eq(tree(path("outside")), ["existing.txt", "secret.txt"])


# ---- sqlite3 ------------------------------------------------------------------

SQL = "PRAGMA journal_mode=DELETE; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2); SELECT sum(x) FROM t;"


@scenario
def sqlite3_with_a_rollback_journal_writes_and_reads_back(mode):
    allow = setup()
    check_eq(ok(run(mode, ["sqlite3", "db.sqlite", SQL], allow, cwd=work()), "sqlite3"), "delete\n3\n")
    check_eq(ok(run(mode, ["sqlite3", "db.sqlite", "SELECT count(*) FROM t;"], allow, cwd=work()),
                "sqlite3"), "2\n")
    check(not os.path.exists(work("db.sqlite-journal")), "journal left behind")


@scenario
def sqlite3_in_a_read_only_directory_creates_no_database(mode):
    setup()
    status, out, err = run(mode, ["sqlite3", "db.sqlite", SQL], [("r", work() + "/")], cwd=work())
    check(status != 0, "sqlite3 succeeded: %s" % out)
    check_eq(tree(work()), ["in.txt"])


# ---- gcc ------------------------------------------------------------------------

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello from a confined gcc"); return 0; }\n'


@scenario
def gcc_compiles_and_links_in_the_work_dir(mode):
    allow = setup()
    write(work("hello.c"), HELLO_C)
    os.makedirs(work("tmp"))
    ok(run(mode, ["gcc", "-O2", "-o", "hello", "hello.c"], allow, cwd=work(),
           env={"TMPDIR": work("tmp")}), "gcc")
    p = subprocess.run([work("hello")], stdout=subprocess.PIPE)
    check_eq(p.stdout, b"hello from a confined gcc\n")
    check_eq(os.listdir(work("tmp")), [])


@scenario
def gcc_cannot_write_its_output_outside_the_policy(mode):
    allow = setup()
    write(work("hello.c"), HELLO_C)
    os.makedirs(work("tmp"))
    refused(run(mode, ["gcc", "-o", path("outside", "hello"), "hello.c"], allow, cwd=work(),
                env={"TMPDIR": work("tmp")}), "gcc")
    check_eq(tree(path("outside")), ["secret.txt"])


# ---- find and grep -r -------------------------------------------------------------

def text_tree(root, dirs=3, files=4):
    for d in range(dirs):
        for f in range(files):
            write(os.path.join(root, "d%d" % d, "e%d" % f, "f.txt"),
                  "needle %d %d\n" % (d, f) if (d + f) % 2 else "hay\n")


@scenario
def find_lists_the_allowed_tree(mode):
    allow = setup()
    text_tree(work("t"))
    out = ok(run(mode, ["find", "t", "-name", "f.txt"], allow, cwd=work()), "find")
    check_eq(sorted(out.split()), sorted("t/d%d/e%d/f.txt" % (d, f) for d in range(3) for f in range(4)))


@scenario
def find_in_a_directory_outside_the_policy_reports_permission_denied(mode):
    allow = setup()
    refused(run(mode, ["find", path("outside")], allow, cwd=work()), "find", 1)


@scenario
def grep_r_finds_every_match(mode):
    allow = setup()
    text_tree(work("t"))
    out = ok(run(mode, ["grep", "-r", "needle", "t"], allow, cwd=work()), "grep -r")
    check_eq(len(out.splitlines()), 6)


@scenario
def grep_r_outside_the_policy_fails(mode):
    allow = setup()
    status, out, err = run(mode, ["grep", "-r", "secret", path("outside")], allow, cwd=work())
    check_eq(status, 2, "grep exit status")
    check_eq(out, "")


@scenario
def grep_r_over_thousands_of_files_finds_what_native_grep_finds(mode):
    # Speed is the benchmark's business (bench/), never a test's: this only
    # checks that a large fts walk through the broker loses nothing.
    allow = setup()
    root = work("big")
    for d in range(30):
        os.makedirs(os.path.join(root, "d%d" % d))
        for f in range(100):
            with open(os.path.join(root, "d%d" % d, "f%d.txt" % f), "w") as fh:
                fh.write("line\nneedle %d\n" % f if f % 10 == 0 else "line\nhay\n")
    native = subprocess.run(["grep", "-r", "needle", "big"], cwd=work(),
                            stdout=subprocess.PIPE).stdout.decode()
    confined = ok(run(mode, ["grep", "-r", "needle", "big"], allow, cwd=work()), "grep -r")
    check_eq(len(confined.splitlines()), 300)
    check_eq(sorted(confined.splitlines()), sorted(native.splitlines()))


# ---- qemu-img / qemu-io on a backing chain ------------------------------------------

def qcow2_chain():
    """base/base.qcow2 (64k of 0x11) under top/top.qcow2; base is granted
    read-only, top read-write."""
    os.makedirs(path("base"))
    os.makedirs(path("top"))
    base, top = path("base", "base.qcow2"), path("top", "top.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -q -P 0x11 0 64k", base], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top],
                   check=True)
    return base, top, [("r", path("base") + "/"), ("rwcd", path("top") + "/")]


@scenario
def qemu_io_reads_through_the_backing_chain(mode):
    base, top, allow = qcow2_chain()
    out = ok(run(mode, ["qemu-io", "-c", "read -P 0x11 0 64k", top], allow, cwd=path("top")), "qemu-io")
    check("read 65536/65536" in out, out)


@scenario
def qemu_io_writes_into_the_top_image(mode):
    base, top, allow = qcow2_chain()
    before = sha(base)
    out = ok(run(mode, ["qemu-io", "-c", "write -P 0x22 0 4k", "-c", "read -P 0x22 0 4k",
                        "-c", "read -P 0x11 4k 60k", top], allow, cwd=path("top")), "qemu-io")
    check("Pattern verification failed" not in out, out)
    check_eq(sha(base), before, "base image changed")
    p = subprocess.run(["qemu-io", "-c", "read -P 0x22 0 4k", top], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(b"Pattern verification failed" not in p.stdout and p.returncode == 0, p.stdout.decode())


@scenario
def qemu_img_commit_into_the_read_only_base_fails(mode):
    base, top, allow = qcow2_chain()
    ok(run(mode, ["qemu-io", "-c", "write -P 0x22 0 4k", top], allow, cwd=path("top")), "qemu-io")
    before = sha(base)
    refused(run(mode, ["qemu-img", "commit", top], allow, cwd=path("top")), "qemu-img commit")
    check_eq(sha(base), before, "base image changed")


@scenario
def qemu_io_fails_when_the_base_is_left_out_of_the_policy(mode):
    base, top, allow = qcow2_chain()
    status, out, err = run(mode, ["qemu-io", "-c", "read 0 4k", top], allow[1:], cwd=path("top"))
    check(status != 0 and "Could not open backing file" in err, "qemu-io: %d %s%s" % (status, out, err))


if __name__ == "__main__":
    if not shutil.which("qemu-img") or not shutil.which("sqlite3"):
        print("# some programs are missing: see scripts/install-deps")
    raise SystemExit(ohtest.main())

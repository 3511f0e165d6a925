#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9, items 4 and 5, with real programs under `openhook run`, in
every mode: x (a program built in the sandbox runs there) and t (private
temporaries in /tmp, /var/tmp and /dev/shm, granted by default): gcc
without TMPDIR, sort of a file larger than its buffer, mktemp, Python's
tempfile, multiprocessing and venv, sqlite3's temporary files; and
another process's files in /tmp stay out of reach, judged on disk."""

import os
import subprocess

import ohtest
from ohtest import BIN, case, check, check_eq, path, read, write

MODES = os.environ.get("OPENHOOK_TEST_MODES", "preload seccomp seccomp-noshim").split()
scenario = ohtest.scenario_per_mode(MODES)
ok = ohtest.ok
refused = ohtest.refused

HELLO_C = '#include <stdio.h>\nint main(void) { puts("built and run inside"); return 0; }\n'
PYTHON = "/usr/bin/python3"     # Debian's: in the direct set, unlike a pyenv shim


# Programs use their default temporary directory, /tmp, whatever the
# runner's environment says.
os.environ.pop("TMPDIR", None)


def run(mode, cmd, allow=(), cwd=None, env=None, extra=(), timeout=180):
    return ohtest.run_confined(mode, cmd, allow, cwd=cwd, env_extra=env, extra=extra, timeout=timeout)


def project():
    write(path("proj", "hello.c"), HELLO_C)
    return path("proj")


def foreign(name, text="SECRET\n"):
    """A file in /tmp of another process (this test's), removed at the end."""
    p = "/tmp/%s-%d-%s" % (name, os.getpid(), os.path.basename(path()))
    write(p, text)
    ohtest.defer(lambda: os.path.lexists(p) and os.unlink(p))
    return p


# ---- x ------------------------------------------------------------------------

@scenario
def program_built_in_the_sandbox_runs_with_x(mode):
    """build/ does not exist yet: run makes it (the policy lets the program
    make it) so that Landlock can let the program execute what is built
    there; gcc's temporaries go to /tmp, the default t."""
    proj = project()
    out = ok(run(mode, ["sh", "-c", "gcc -o build/app hello.c && ./build/app"],
                 [("r", proj + "/"), ("rwcdx", proj + "/build/")], cwd=proj), "make && ./build/app")
    check_eq(out, "built and run inside\n")
    check(os.access(path("proj", "build", "app"), os.X_OK), "the program is on disk")


@scenario
def program_built_without_x_is_refused(mode):
    proj = project()
    os.makedirs(path("proj", "build"))
    refused(run(mode, ["sh", "-c", "gcc -o build/app hello.c && ./build/app"],
                [("r", proj + "/"), ("rwcd", proj + "/build/")], cwd=proj), "exec without x", status=126)
    check(os.path.exists(path("proj", "build", "app")), "gcc did not build the program")


MARKER_C = r'''#include <stdio.h>
int main(int argc, char **argv) { FILE *f = fopen(argv[1], "w"); return f ? 0 : 1; }
'''

FD_EXEC = r'''
import ctypes, os, sys
app, marker = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
argv = (ctypes.c_char_p * 3)(app.encode(), marker.encode(), None)
envp = (ctypes.c_char_p * 1)(None)
def execveat(fd, name, flags):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(322), ctypes.c_long(fd), name, argv, envp, ctypes.c_long(flags))
    return os.strerror(ctypes.get_errno()) if r < 0 else "ran"
fd = os.open(app, os.O_RDONLY)
print("fd:", execveat(fd, b"", 0x1000))                      # fexecve: AT_EMPTY_PATH
print("path:", execveat(-100, app.encode(), 0x1000))         # AT_FDCWD, a path, AT_EMPTY_PATH
'''


@scenario
def exec_through_an_fd_is_refused_without_x(mode):
    """execveat with AT_EMPTY_PATH is not notified (run starts COMMAND so),
    and Landlock alone refuses a file outside the direct set, by an fd
    and by a path: judged by the marker the program would make."""
    if os.uname().machine != "x86_64":
        raise ohtest.Skip("the raw execveat number here is x86_64's")
    proj = project()
    write(path("proj", "marker.c"), MARKER_C)
    app = path("proj", "app")
    subprocess.run(["gcc", "-o", app, path("proj", "marker.c")], check=True)
    marker = path("proj", "out", "ran")
    os.makedirs(path("proj", "out"))
    # The judge works: outside, the program makes its marker.
    subprocess.run([app, marker], check=True)
    check(os.path.exists(marker), "the marker program does not make its marker")
    os.unlink(marker)
    status, out, err = run(mode, [PYTHON, "-c", FD_EXEC, app, marker],
                           [("r", proj + "/"), ("rwcd", proj + "/out/")], cwd=proj)
    check_eq(status, 0, "status: " + err)
    check_eq(out, "fd: Permission denied\npath: Permission denied\n", "what the program was told")
    check(not os.path.exists(marker), "the program outside the direct set ran")


@scenario
def refused_exec_says_which_x_rule_would_allow_it(mode):
    """The supervisor, in every mode, tells Landlock's refusal of an exec
    apart and prints the rule."""
    proj = project()
    os.makedirs(path("proj", "build"))
    status, out, err = run(mode, ["sh", "-c", "gcc -o build/app hello.c && ./build/app"],
                           [("r", proj + "/"), ("rwcd", proj + "/build/")], cwd=proj)
    check_eq(status, 126, "status: " + err)
    app = path("proj", "build", "app")
    check("denied exec %s" % app in err and "x:%s" % app in err, "the hint:\n" + err)
    check("x:%s/" % path("proj", "build") in err, "the directory is offered too:\n" + err)


@scenario
def learn_writes_x_for_a_program_it_ran(mode):
    """--learn lets any program run and learns an x rule for one outside
    the direct set; the learned policy runs it again."""
    proj = project()
    subprocess.run(["gcc", "-o", path("proj", "app"), path("proj", "hello.c")], check=True)
    learned = path("learned.policy")
    out = ok(run(mode, ["sh", "-c", "./app"], cwd=proj, extra=["--learn", learned]), "./app under --learn")
    check_eq(out, "built and run inside\n")
    text = read(learned).decode()
    check("allow x %s\n" % path("proj", "app") in text, "no x rule:\n" + text)
    out = ok(run(mode, ["sh", "-c", "./app"], cwd=proj, extra=["--policy", learned]), "./app with the learned policy")
    check_eq(out, "built and run inside\n")


@case
def x_on_a_missing_file_is_not_widened_to_its_directory():
    """Landlock names inodes: a file that does not exist yet would need its
    directory, which is more than the rule says.  run says so, and the
    program built there may not run."""
    proj = project()
    st, out, err = run("preload", ["sh", "-c", "gcc -o app hello.c && ./app"],
                       [("rwcd", proj + "/"), ("rwcdx", proj + "/app")], cwd=proj)
    check(st == 126, "the program ran:\n" + out + err)
    check("x:%s/app does not exist yet" % proj in err, "no warning:\n" + err)


# ---- t: real programs -------------------------------------------------------------

@scenario
def gcc_without_tmpdir_works_and_needs_the_private_tmp(mode):
    proj = project()
    allow = [("r", proj + "/"), ("rwcd", proj + "/out/")]
    os.makedirs(path("proj", "out"))
    ok(run(mode, ["gcc", "-o", "out/app", "hello.c"], allow, cwd=proj), "gcc")
    check_eq(subprocess.run([path("proj", "out", "app")], capture_output=True).stdout,
             b"built and run inside\n")
    os.unlink(path("proj", "out", "app"))
    refused(run(mode, ["gcc", "-o", "out/app", "hello.c"], allow, cwd=proj, extra=["--no-private-tmp"]),
            "gcc --no-private-tmp")
    check(not os.path.exists(path("proj", "out", "app")), "gcc wrote its output anyway")


@scenario
def sort_larger_than_its_buffer_spills_to_tmp(mode):
    lines = ["%08d\n" % ((i * 7919) % 200003) for i in range(200003)]
    write(path("w", "in.txt"), "".join(lines))
    allow = [("rwcd", path("w") + "/")]
    ok(run(mode, ["sort", "-S", "64K", "-o", path("w", "sorted.txt"), path("w", "in.txt")], allow),
       "sort")
    check_eq(read(path("w", "sorted.txt")).decode(), "".join(sorted(lines)))
    st, out, err = run(mode, ["sort", "-S", "64K", "-o", path("w", "again.txt"), path("w", "in.txt")],
                       allow, extra=["--no-private-tmp"])
    check(st != 0 and "cannot create temporary file" in err, "sort without t:\n" + err)


@scenario
def mktemp_and_python_tempfile(mode):
    script = ('import os, tempfile\n'
              'with tempfile.TemporaryDirectory() as d:\n'
              '    os.mkdir(os.path.join(d, "sub"))\n'
              '    open(os.path.join(d, "sub", "f"), "w").write("x")\n'
              'with tempfile.NamedTemporaryFile() as f:\n'
              '    f.write(b"y"); f.flush(); assert open(f.name).read() == "y"\n'
              'with tempfile.TemporaryFile() as f:\n'
              '    f.write(b"z")\n'
              'with tempfile.SpooledTemporaryFile(max_size=1) as f:\n'
              '    f.write(b"spilled")\n'
              'print(tempfile.gettempdir())\n')
    out = ok(run(mode, ["sh", "-c", 'f=$(mktemp) && d=$(mktemp -d) && echo ok > "$f" && cat "$f" '
                        '&& touch "$d/a" && rm -r "$f" "$d"']), "mktemp")
    check_eq(out, "ok\n")
    out = ok(run(mode, [PYTHON, "-c", script]), "python3 tempfile")
    check_eq(out, "/tmp\n")


@scenario
def python_multiprocessing_pool(mode):
    """Its locks are POSIX named semaphores in /dev/shm (glibc's sem_open,
    which the shim does over the broker in preload mode)."""
    script = ('import multiprocessing as mp\n'
              'def sq(x): return x * x\n'
              'if __name__ == "__main__":\n'
              '    with mp.Pool(2) as p: print(sum(p.map(sq, range(100))))\n'
              '    with mp.Lock(): print("locked")\n')
    write(path("w", "pool.py"), script)
    out = ok(run(mode, [PYTHON, path("w", "pool.py")], [("r", path("w") + "/")]), "multiprocessing.Pool")
    check_eq(out, "328350\nlocked\n")


SEM_C = r'''
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* sem_open as POSIX has it: the same address for the same name, EEXIST
 * with O_EXCL, a semaphore shared with a child, sem_unlink. */
int main(int argc, char **argv)
{
        sem_t *a = sem_open(argv[1], O_CREAT | O_EXCL, 0600, 0);
        sem_t *b = sem_open(argv[1], 0);
        sem_t *c = sem_open(argv[1], O_CREAT | O_EXCL, 0600, 0);
        int value = -1;
        if (a == SEM_FAILED || b != a || c != SEM_FAILED || errno != EEXIST) {
                printf("open: %s\n", strerror(errno));
                return 1;
        }
        if (fork() == 0) {
                sem_t *s = sem_open(argv[1], 0);
                sem_post(s);
                _exit(s == SEM_FAILED);
        }
        sem_wait(a);
        wait(NULL);
        sem_getvalue(a, &value);
        if (sem_close(b) || sem_close(a) || sem_unlink(argv[1]) || sem_unlink(argv[1]) == 0 || errno != ENOENT) {
                printf("close/unlink: %s\n", strerror(errno));
                return 1;
        }
        printf("ok %d\n", value);
        return 0;
}
'''


@scenario
def named_semaphores_work_as_posix_says(mode):
    src = write(path("w", "sem.c"), SEM_C)
    exe = path("w", "sem")
    subprocess.run(["gcc", "-o", exe, src, "-pthread"], check=True)
    name = "/openhook-test-%d-%s" % (os.getpid(), mode)
    out = ok(run(mode, [exe, name], [("rx", path("w") + "/")]), "sem_open")
    check_eq(out, "ok 0\n")
    check(not os.path.exists("/dev/shm/sem." + name[1:]), "the semaphore is gone")


@scenario
def python_venv(mode):
    """The venv's python is a symlink to Debian's, executed through the
    program's own tree; with pip (seccomp modes), ensurepip unpacks its
    wheels into a private temporary directory."""
    allow = [("rwcd", path("w") + "/")]
    os.makedirs(path("w"))
    ok(run(mode, [PYTHON, "-m", "venv", "--without-pip", path("w", "bare")], allow), "venv --without-pip")
    out = ok(run(mode, [path("w", "bare", "bin", "python"), "-c", "import sys; print(sys.prefix)"], allow),
             "the venv's python")
    check_eq(out, path("w", "bare") + "\n")
    if mode == "preload":
        return      # pip runs in a subprocess that closes OPENHOOK_FD (README: preload mode)
    pip_allow = allow + [("r", "/etc/"), ("r", "/usr/lib/os-release")]
    ok(run(mode, [PYTHON, "-m", "venv", path("w", "full")], pip_allow), "venv with pip")
    check(os.path.exists(path("w", "full", "bin", "pip")), "pip was installed")


@scenario
def sqlite3_temporary_files(mode):
    allow = [("rwcd", path("db") + "/")]
    os.makedirs(path("db"))
    sql = ("pragma temp_store=file; pragma cache_size=10;"
           "create table t(x); with recursive c(i) as (select 1 union all select i+1 from c where i < 20000) "
           "insert into t select hex(randomblob(40)) from c;"
           "create temp table u as select * from t order by x; select count(*) from u;")
    out = ok(run(mode, ["sqlite3", "-init", "/dev/null", path("db", "app.db"), sql], allow), "sqlite3")
    check_eq(out, "20000\n")


# ---- t: what is not the sandbox's -------------------------------------------------

@scenario
def other_files_in_tmp_stay_out_of_reach(mode):
    secret = foreign("oh-secret")
    planted = "/tmp/oh-planted-%d-%s" % (os.getpid(), os.path.basename(path()))
    os.symlink(secret, planted)
    ohtest.defer(os.unlink, planted)
    refused(run(mode, ["cat", secret]), "read another's file")
    refused(run(mode, ["sh", "-c", "echo pwned > " + secret]), "write another's file")
    refused(run(mode, ["rm", "-f", secret]), "remove another's file")
    refused(run(mode, ["cat", planted]), "read through a planted symlink")
    refused(run(mode, ["rm", "-f", planted]), "remove a planted symlink")
    refused(run(mode, ["mv", secret, secret + ".mine"]), "rename another's file")
    check_eq(read(secret), b"SECRET\n")
    check(os.path.islink(planted) and not os.path.exists(secret + ".mine"), "the tree changed")


@scenario
def name_reused_by_another_process_is_not_the_sandboxs(mode):
    """The program makes a file, another process replaces it by its own of
    the same name, the program then tries to read, write and remove it."""
    name = "/tmp/oh-reuse-%d-%s" % (os.getpid(), os.path.basename(path()))
    ohtest.defer(lambda: os.path.lexists(name) and os.unlink(name))
    script = ('import os, sys\n'
              'name = sys.argv[1]\n'
              'open(name, "x").write("mine")\n'
              'print("made", flush=True)\n'
              'sys.stdin.readline()\n'
              'for what, f in (("read", lambda: open(name).read()), ("write", lambda: open(name, "w")),\n'
              '                ("remove", lambda: os.unlink(name))):\n'
              '    try:\n'
              '        f(); print(what, "allowed")\n'
              '    except PermissionError:\n'
              '        print(what, "refused")\n')
    argv = [BIN, "run"] + ohtest.mode_args(mode) + ["--", PYTHON, "-c", script, name]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ohtest.env())
    check_eq(p.stdout.readline(), "made\n")
    os.unlink(name)
    write(name, "THEIRS")
    out, err = p.communicate("go\n", timeout=60)
    check_eq(out, "read refused\nwrite refused\nremove refused\n")
    check_eq(read(name), b"THEIRS")


# ---- learn and check ------------------------------------------------------------------

@scenario
def learn_writes_t_rules_for_temporaries(mode):
    proj = project()
    learned = path("learned.policy")
    ok(run(mode, ["gcc", "-o", "app", "hello.c"], cwd=proj, extra=["--learn", learned]), "gcc --learn")
    text = read(learned).decode()
    check("allow t /tmp/\n" in text, "no t rule:\n" + text)
    check("allow rwcd /tmp/\n" not in text, "a rwcd rule for /tmp:\n" + text)
    os.unlink(path("proj", "app"))
    ok(run(mode, ["gcc", "-o", "app", "hello.c"], cwd=proj, extra=["--policy", learned, "--no-private-tmp"]),
       "gcc with the learned policy")


@case
def check_shows_x_and_t():
    p = subprocess.run([BIN, "check", "--allow", "x:/srv/app/", "--allow", "t:/tmp/"],
                       capture_output=True, text=True)
    check_eq(p.returncode, 0)
    check_eq(p.stdout, "allow rx /srv/app/\t# --allow x:/srv/app/\n"
                       "allow t /tmp/\t# --allow t:/tmp/\n")
    p = subprocess.run([BIN, "check", "--allow", "t:/tmp"], capture_output=True, text=True)
    check_eq(p.returncode, 2)
    check("'t' needs a directory rule: write '/tmp/'" in p.stderr, p.stderr)


if __name__ == "__main__":
    raise SystemExit(ohtest.main())

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Files sent ahead (OPENHOOK_CMD_OPEN_AHEAD, _OPEN_DIR_AHEAD): a program
under `openhook run` that reads a directory through gets, for each open,
exactly what it would have got by asking the broker: the policy's decision
(each file sent ahead is decided and logged), the lowest free fd number,
the close-on-exec flag it asked for, offset 0, the file the name leads to
now, and an open file description of its own (also in a forked child).  A
program that reads what it lists gets a directory's files with the
directory; one that only lists gets none."""

import json
import os
import subprocess

import ohtest
from ohtest import case, check, check_eq, path, read, write

MODES = [m for m in os.environ.get("OPENHOOK_TEST_MODES", "preload seccomp").split()
         if m in ("preload", "seccomp")]
scenario = ohtest.scenario_per_mode(MODES)
PYTHON = "/usr/bin/python3"
NFILES = 40

READER = r'''
import ctypes, fcntl, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
names = sorted(n for n in os.listdir(d) if n.startswith("f"))
first = None
for i, n in enumerate(names):
    p = os.path.join(d, n).encode()
    # Every other file without O_CLOEXEC, through libc's open().
    fd = os.open(p, os.O_RDONLY) if i % 2 else libc.open(p, os.O_RDONLY)
    first = fd if first is None else first
    assert fd == first, (n, fd, first)
    cloexec = bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    assert cloexec == bool(i % 2), (n, cloexec)
    assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    data = os.read(fd, 100)
    assert data == n.encode() + b"\n", (n, data)
    os.close(fd)
try:
    os.open(os.path.join(d, "secret"), os.O_RDONLY)
    print("secret opened")
except PermissionError:
    print("secret refused")
print(len(names))
'''


def tree(name):
    d = path(name)
    os.mkdir(d)
    for i in range(NFILES):
        write(os.path.join(d, "f%02d" % i), b"f%02d\n" % i)
    write(os.path.join(d, "secret"), b"secret\n")
    return d


def log_lines(p):
    return [json.loads(l) for l in read(p).decode().splitlines()]


@scenario
def a_directory_read_through_comes_ahead_and_reads_as_asked(mode):
    d = tree("through-" + mode)
    log = path("through-%s.jsonl" % mode)
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", READER, d], [("r", d + "/")],
                                           extra=["--deny", os.path.join(d, "secret"), "--log", log])
    check_eq(status, 0, err)
    check_eq(out.split(), ["secret", "refused", str(NFILES)])
    lines = [l for l in log_lines(log) if l["command"] == "open" and (l["path"] or "").startswith(d + "/")]
    ahead = [l for l in lines if l.get("reason") == "sent ahead"]
    check(len(ahead) > NFILES // 2, "most files came ahead: %d" % len(ahead))
    check(all(l["decision"] == "allow" and not l["path"].endswith("/secret") for l in ahead),
          "only allowed files, never the denied one, are sent ahead")
    opened = {l["path"] for l in lines if l["decision"] == "allow"}
    check_eq(len(opened), NFILES, "every file the program read was decided and logged")


REPLACER = r'''
import os, sys
d = sys.argv[1]
os.listdir(d)
os.close(os.open(os.path.join(d, "f00"), os.O_RDONLY))
os.close(os.open(os.path.join(d, "f01"), os.O_RDONLY))    # asks for the rest ahead
with open(os.path.join(d, "new"), "wb") as f:
    f.write(b"replaced\n")
os.rename(os.path.join(d, "new"), os.path.join(d, "f05"))
fd = os.open(os.path.join(d, "f05"), os.O_RDONLY)
print(os.read(fd, 100).decode().strip())
'''


@scenario
def a_file_replaced_after_it_came_ahead_is_opened_anew(mode):
    d = tree("replaced-" + mode)
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", REPLACER, d], [("rwcd", d + "/")])
    check_eq(status, 0, err)
    check_eq(out.strip(), "replaced")


FORKER = r'''
import os, sys
d = sys.argv[1]
os.listdir(d)
os.close(os.open(os.path.join(d, "f00"), os.O_RDONLY))
os.close(os.open(os.path.join(d, "f01"), os.O_RDONLY))    # the rest is held now
pid = os.fork()
if pid == 0:
    fd = os.open(os.path.join(d, "f02"), os.O_RDONLY)
    os.read(fd, 2)
    os._exit(0)
os.waitpid(pid, 0)
fd = os.open(os.path.join(d, "f02"), os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_CUR), os.read(fd, 100).decode().strip())
'''


@scenario
def a_forked_child_never_shares_an_offset_with_its_parent(mode):
    d = tree("fork-" + mode)
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", FORKER, d], [("r", d + "/")])
    check_eq(status, 0, err)
    check_eq(out.split(), ["0", "f02"])


WALKER = r'''
import os, sys
top, read = sys.argv[1], sys.argv[2] == "read"
dirs = sorted(os.path.join(top, n) for n in os.listdir(top))
def files(d):
    return sorted(e.name for e in os.scandir(d) if e.is_file())

def read_all(d, names):
    for n in names:
        if n == "secret":
            continue
        fd = os.open(os.path.join(d, n), os.O_RDONLY)
        data = os.read(fd, 100)
        want = "%s/%s\n" % (os.path.relpath(d, top), n)
        assert data == want.encode(), (d, n, data)
        os.close(fd)

# The first directory is read through file by file (its files then come
# ahead with OPEN_AHEAD); each later one is opened (scandir) before its
# files are read, two at a time, so two hold files of the same names;
# then each one's subdirectory s.
for a, b in zip(dirs[::2], dirs[1::2]):
    fa, fb = files(a), files(b)
    if not read:
        continue
    read_all(a, fa)
    read_all(b, fb)
    for d in (a, b):
        s = os.path.join(d, "s")
        try:
            read_all(s, files(s))
            read_all(os.path.join(s, "t"), files(os.path.join(s, "t")))
        except PermissionError:
            print("refused", os.path.relpath(s, top))
print("done")
'''


def walked_tree(name, ndirs=6, nfiles=10):
    top = path(name)
    os.mkdir(top)
    for i in range(ndirs):
        d = os.path.join(top, "d%d" % i)
        os.makedirs(os.path.join(d, "s", "t"))
        write(os.path.join(d, "s", "t", "h"), b"d%d/s/t/h\n" % i)
        for j in range(nfiles):
            write(os.path.join(d, "f%02d" % j), b"d%d/f%02d\n" % (i, j))
        for j in range(3):
            write(os.path.join(d, "s", "g%d" % j), b"d%d/s/g%d\n" % (i, j))
        write(os.path.join(d, "secret"), b"secret\n")
    return top


def walk(mode, name, how):
    top = walked_tree(name)
    log = path(name + ".jsonl")
    deny = [a for i in range(6) for a in ("--deny", "%s/d%d/secret" % (top, i))] + ["--deny", top + "/d3/s/"]
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", WALKER, top, how], [("r", top + "/")],
                                           extra=deny + ["--log", log])
    check_eq((status, out.split()), (0, (["refused", "d3/s"] if how == "read" else []) + ["done"]), err)
    return top, [l for l in log_lines(log) if l["command"] == "open" and (l["path"] or "").startswith(top + "/")]


@scenario
def a_program_that_reads_what_it_lists_gets_each_directorys_files_with_it(mode):
    top, lines = walk(mode, "walk-read-" + mode, "read")
    ahead = [l for l in lines if l.get("reason") == "sent ahead"]
    check(all(l["decision"] == "allow" and not l["path"].endswith("/secret") and "/d3/s" not in l["path"]
              for l in ahead), "only allowed files and directories, never a denied one, are sent ahead")
    check(all(("O_DIRECTORY" in l["flag_names"]) == l["path"].endswith(("/s", "/t")) for l in ahead),
          "files are sent with the files' flags, directories with the directories'")
    # After the first directory, every file came with its directory: none
    # was asked for one by one; and its subdirectory came with it too,
    # decided and logged as the program's own open of it would be.
    for i in (2, 4, 5):
        d = "%s/d%d/" % (top, i)
        mine = [l for l in lines if l["path"].startswith(d) and "O_DIRECTORY" not in l["flag_names"]]
        check(mine and all(l.get("reason") == "sent ahead" for l in mine),
              "d%d's files came with it: %r" % (i, [(l["path"], l.get("reason")) for l in mine]))
        for name in ("s", "s/t"):
            sub = [l for l in lines if l["path"] == d + name]
            check(len(sub) == 1 and sub[0].get("reason") == "sent ahead" and "O_DIRECTORY" in sub[0]["flag_names"],
                  "d%d/%s came with d%d: %r" % (i, name, i, sub))
    files = {l["path"] for l in lines if l["decision"] == "allow" and "O_DIRECTORY" not in l["flag_names"]}
    check_eq(len(files), 80, "every file read was decided and logged")


@scenario
def a_program_that_only_lists_gets_no_files_ahead(mode):
    _, lines = walk(mode, "walk-list-" + mode, "list")
    check_eq([l["path"] for l in lines if l.get("reason") == "sent ahead"], [], "nothing sent ahead")


def deep_tree(name):
    """Directories within directories, files between them, a symlink, and
    more files in one directory than one reply holds."""
    top = path(name)
    for d in ("a/b/c/d", "a/e", "f/g", "many"):
        os.makedirs(os.path.join(top, d))
    for d in ("", "a", "a/b", "a/b/c", "a/b/c/d", "a/e", "f", "f/g"):
        for j in range(5):
            rel = os.path.join(d, "x%d" % j)
            write(os.path.join(top, rel), b"line of %s\nEND\n" % rel.encode())
    for j in range(150):
        write(os.path.join(top, "many", "m%03d" % j), b"line of many/m%03d\nEND\n" % j)
    write(os.path.join(top, "f", "secret"), b"the secret\nEND\n")
    os.symlink("../x0", os.path.join(top, "a", "link"))
    return top


@scenario
def grep_r_reads_every_file_under_run_as_it_does_natively(mode):
    """grep -r walks in directory order, which the broker follows and
    prepares ahead (no --log here, so replies are prepared): every file's
    lines, and nothing of the one denied."""
    top = deep_tree("grep-walk-" + mode)
    native = subprocess.run(["/usr/bin/grep", "-r", "", top], stdout=subprocess.PIPE, check=True).stdout.decode()
    want = [l for l in native.splitlines() if not l.startswith(top + "/f/secret:")]
    check_eq(len(want), 2 * (8 * 5 + 150), "every file but the secret has two lines")
    log = path("grep-walk-%s.jsonl" % mode)
    for extra in ([], ["--log", log]):
        status, out, err = ohtest.run_confined(mode, ["/usr/bin/grep", "-r", "", top], [("r", top + "/")],
                                               extra=["--deny", top + "/f/secret"] + extra)
        check_eq(status, 2, "grep says one file could not be read: " + err)
        check_eq(out.splitlines(), want, "the same lines in the same order, none of the secret")
        check("the secret" not in out, "the denied file was not read")
    # Each file decided and logged once, when it was sent: none twice (a
    # prepared reply is logged when it goes out, not when it is made).
    files = [l["path"] for l in log_lines(log) if l["command"] == "open" and l["decision"] == "allow"
             and "O_DIRECTORY" not in l["flag_names"] and (l["path"] or "").startswith(top + "/")]
    check_eq(sorted(files), sorted(set(files)), "no file logged twice")
    check_eq(len(files), 8 * 5 + 150, "every file read was logged")


SAMPLER = r'''
import os, sys
top = sys.argv[1]
for d in ("a", "b"):
    p = os.path.join(top, d)
    # In the directory's order, so what comes ahead is read; a is
    # listed, b is not (the test names its first three).
    names = os.listdir(p)[:3] if d == "a" else sys.argv[2:5]
    for n in names:
        fd = os.open(os.path.join(p, n), os.O_RDONLY)
        os.read(fd, 100)
        os.close(fd)
print("done")
'''


@scenario
def a_program_reading_some_of_what_came_walks_no_further(mode):
    """Reading three files of a directory whose files came ahead, then
    three of another without listing it: no walk is carried into the
    second (what came for the first is mostly unread), so its first read
    brings nothing with it."""
    top = path("sampler-" + mode)
    for d in ("a", "b"):
        os.makedirs(os.path.join(top, d))
        for i in range(20):
            write(os.path.join(top, d, "f%02d" % i), b"%s/f%02d\n" % (d.encode(), i))
    log = path("sampler-%s.jsonl" % mode)
    order = os.listdir(os.path.join(top, "b"))[:3]
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", SAMPLER, top] + order, [("r", top + "/")],
                                           extra=["--log", log])
    check_eq((status, out.split()), (0, ["done"]), err)
    lines = [l for l in log_lines(log) if l["command"] == "open" and (l["path"] or "").startswith(top + "/")]
    a_requests = [l["path"] for l in lines if l["path"].startswith(top + "/a/") and l.get("reason") != "sent ahead"
                  and "O_DIRECTORY" not in l["flag_names"]]
    check_eq(len(a_requests), 1, "a's second and third files came with its first: %r" % a_requests)
    # b's first read is asked for alone (its second, in the same
    # directory, may bring the others as OPEN_AHEAD always did).
    b0 = "%s/b/%s" % (top, order[0])
    first = [i for i, l in enumerate(lines) if l["path"] == b0 and l.get("reason") != "sent ahead"]
    check_eq(len(first), 1, "b's first file was asked for once")
    check(first[0] + 1 == len(lines) or lines[first[0] + 1].get("reason") != "sent ahead",
          "nothing came with b's first file: %r" % lines[first[0] + 1:first[0] + 3])


REOPENER = r'''
import os, sys
d = sys.argv[1]
name = os.path.join(d, sys.argv[2])
for _ in range(20):
    fd = os.open(name, os.O_RDONLY)
    os.read(fd, 100)
    os.close(fd)
'''


@scenario
def a_program_reopening_one_file_gets_no_files_ahead(mode):
    d = tree("reopen-" + mode)
    log = path("reopen-%s.jsonl" % mode)
    status, out, err = ohtest.run_confined(mode, [PYTHON, "-c", REOPENER, d, "f%02d" % (NFILES // 2)],
                                           [("r", d + "/")],
                                           extra=["--log", log])
    check_eq(status, 0, err)
    lines = [l for l in log_lines(log) if l["command"] == "open" and (l["path"] or "").startswith(d + "/")]
    check_eq([l["path"] for l in lines if l.get("reason") == "sent ahead"], [], "nothing sent ahead")
    check_eq(len([l for l in lines if l["path"].endswith("/f%02d" % (NFILES // 2))]), 20,
             "each open of the file decided and logged")


if __name__ == "__main__":
    ohtest.main()

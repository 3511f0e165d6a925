#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The policy as a client sees it over the wire: what it may open, what it
may not, and that refused requests leave the disk untouched."""

import errno
import fcntl
import os
import stat
import sys
import time

import ohtest
from ohtest import (CMD_LINK, CMD_MKDIR, CMD_OPEN, CMD_RENAME, CMD_RMDIR,
                    CMD_SYMLINK, CMD_TRUNCATE, CMD_UNLINK, Broker, case,
                    check, check_eq, check_result, fd_read, open_, path,
                    read, request, write)

EACCES = -errno.EACCES


def tree():
    """data/ (the allowed tree) and secret, outsidedir/ beside it."""
    write(path("data", "file"), b"data file\n")
    write(path("data", "sub", "inner"), b"inner\n")
    write(path("secret"), b"secret\n")
    os.mkdir(path("outsidedir"))
    return path("data")


def broker(*rules, **kw):
    args = []
    for r in rules:
        args += ["--deny", r[1:]] if r.startswith("!") else ["--allow", r]
    return Broker(args, quiet=True, **kw)


def ls(p):
    return sorted(os.listdir(p))


@case
def dotdot_escape_is_refused():
    d = tree()
    br = broker("rwcd:%s/" % d)
    for p in (d + "/../secret", d + "/sub/../../secret", d + "/./../secret"):
        open_(br.sock, p, want=EACCES)
    open_(br.sock, d + "/sub/../file")     # staying inside is fine


@case
def symlink_to_outside_is_refused():
    d = tree()
    os.symlink(path("secret"), d + "/abs-out")
    os.symlink("../secret", d + "/rel-out")
    os.symlink(path("outsidedir"), d + "/dir-out")
    br = broker("rwcd:%s/" % d)
    open_(br.sock, d + "/abs-out", want=EACCES)
    open_(br.sock, d + "/rel-out", want=EACCES)
    open_(br.sock, d + "/abs-out", os.O_WRONLY | os.O_TRUNC, want=EACCES)
    open_(br.sock, d + "/dir-out/new", os.O_WRONLY | os.O_CREAT, 0o644, want=EACCES)
    check_eq(read(path("secret")), b"secret\n", "secret untouched")
    check_eq(ls(path("outsidedir")), [], "nothing created through the link")


@case
def symlink_inside_the_policy_is_followed():
    d = tree()
    os.symlink("sub/inner", d + "/rel-in")
    os.symlink(d + "/file", d + "/abs-in")
    os.symlink("sub", d + "/dir-in")
    br = broker("r:%s/" % d)
    check_eq(fd_read(open_(br.sock, d + "/rel-in").fd), b"inner\n")
    check_eq(fd_read(open_(br.sock, d + "/abs-in").fd), b"data file\n")
    check_eq(fd_read(open_(br.sock, d + "/dir-in/inner").fd), b"inner\n")


@case
def symlink_inside_pointing_at_a_file_outside_a_narrow_rule_is_refused():
    d = tree()
    os.symlink("sub/inner", d + "/to-inner")
    br = broker("r:%s/file" % d, "r:%s/to-inner" % d)
    open_(br.sock, d + "/file")
    # The link may be followed, but its target is not allowed.
    open_(br.sock, d + "/to-inner", want=EACCES)


@case
def proc_self_root_magic_link_is_refused():
    d = tree()
    br = broker("r:%s/" % d, "r:/proc/")
    open_(br.sock, "/proc/self/root" + path("secret"), want=EACCES)
    open_(br.sock, "/proc/%d/root%s" % (br.pid, path("secret")), want=EACCES)
    open_(br.sock, "/proc/self/cwd/" + path("secret"), want=EACCES)


@case
def proc_self_fd_magic_link_is_refused():
    d = tree()
    br = Broker(["--allow", "r:%s/" % d, "--allow", "r:/proc/"], quiet=True, log=True)
    open_(br.sock, d + "/file")     # the broker is up, its log open
    # The broker holds its log file (outside the policy) open: find it.
    fds = [fd for fd in os.listdir("/proc/%d/fd" % br.pid)
           if os.readlink("/proc/%d/fd/%s" % (br.pid, fd)) == br.log_path]
    check(fds, "broker has its log open")
    for base in ("/proc/self/fd/", "/proc/thread-self/fd/", "/proc/%d/fd/" % br.pid):
        r = request(br.sock, ohtest.open_msg(base + fds[0], os.O_RDWR))
        check(r.result < 0, "%s%s opened: %r" % (base, fds[0], r))


@case
def existing_and_missing_outside_paths_get_the_same_eacces():
    tree()
    br = broker("rwc:%s/" % path("data"))
    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_CREAT, os.O_RDONLY | os.O_DIRECTORY):
        open_(br.sock, path("secret"), flags, 0o644, want=EACCES)
        open_(br.sock, path("missing"), flags, 0o644, want=EACCES)
        open_(br.sock, path("missingdir", "x"), flags, 0o644, want=EACCES)
        open_(br.sock, path("secret", "notadir"), flags, 0o644, want=EACCES)
    check(not os.path.exists(path("missing")), "missing was created")


@case
def nothing_is_created_or_truncated_outside_the_policy():
    tree()
    br = broker("rwcd:%s/" % path("data"))
    before = ls(ohtest.tmp)
    open_(br.sock, path("new"), os.O_WRONLY | os.O_CREAT, 0o644, want=EACCES)
    open_(br.sock, path("new2"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, want=EACCES)
    open_(br.sock, path("secret"), os.O_WRONLY | os.O_TRUNC, want=EACCES)
    open_(br.sock, path("secret"), os.O_RDONLY | os.O_TRUNC, want=EACCES)
    open_(br.sock, path("outsidedir"), os.O_WRONLY | os.O_TMPFILE, 0o600, want=EACCES)
    check_result(request(br.sock, ohtest.mkdir_msg(path("newdir"))), EACCES, CMD_MKDIR)
    check_result(request(br.sock, ohtest.truncate_msg(path("secret"), 0)), EACCES, CMD_TRUNCATE)
    check_eq(ls(ohtest.tmp), before, "entries of the parent directory")
    check_eq(read(path("secret")), b"secret\n", "secret content")
    check_eq(ls(path("outsidedir")), [], "outsidedir")


@case
def creating_a_file_needs_c():
    d = tree()
    br = broker("rw:%s/" % d)
    open_(br.sock, d + "/new", os.O_WRONLY | os.O_CREAT, 0o644, want=EACCES)
    check(not os.path.exists(d + "/new"), "created without c")
    # An existing file opened with O_CREAT needs only w.
    r = open_(br.sock, d + "/file", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(r.fd, b"DATA")
    check_eq(read(d + "/file"), b"DATA file\n")
    br2 = broker("rwc:%s/" % d)
    r = open_(br2.sock, d + "/new", os.O_WRONLY | os.O_CREAT, 0o644)
    check(os.path.isfile(d + "/new"), "not created with c")


@case
def create_only_rule_does_not_clobber_an_existing_file():
    d = tree()
    br = broker("c:%s/" % d)
    open_(br.sock, d + "/file", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, want=EACCES)
    check_eq(read(d + "/file"), b"data file\n", "existing file content")
    r = open_(br.sock, d + "/fresh", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(r.fd, b"ok")
    check_eq(read(d + "/fresh"), b"ok")


@case
def truncating_needs_w():
    d = tree()
    br = broker("rc:%s/" % d)
    open_(br.sock, d + "/file", os.O_RDONLY | os.O_TRUNC, want=EACCES)
    open_(br.sock, d + "/file", os.O_RDWR | os.O_TRUNC, want=EACCES)
    check_eq(read(d + "/file"), b"data file\n", "content after refused O_TRUNC")
    br2 = broker("rw:%s/" % d)
    open_(br2.sock, d + "/file", os.O_WRONLY | os.O_TRUNC)
    check_eq(read(d + "/file"), b"", "content after allowed O_TRUNC")


@case
def writing_needs_w_and_reading_needs_r():
    d = tree()
    br = broker("r:%s/ro" % d, "w:%s/wo" % d)
    write(d + "/ro", b"ro")
    write(d + "/wo", b"wo")
    open_(br.sock, d + "/ro")
    open_(br.sock, d + "/ro", os.O_WRONLY, want=EACCES)
    open_(br.sock, d + "/ro", os.O_RDWR, want=EACCES)
    open_(br.sock, d + "/wo", os.O_WRONLY)
    open_(br.sock, d + "/wo", os.O_RDONLY, want=EACCES)


@case
def setuid_and_setgid_bits_are_stripped_on_create():
    d = tree()
    br = broker("rwc:%s/" % d)
    open_(br.sock, d + "/suid", os.O_WRONLY | os.O_CREAT, 0o6755)
    check_eq(stat.S_IMODE(os.stat(d + "/suid").st_mode) & 0o7000, 0, "special bits")
    check_result(request(br.sock, ohtest.mkdir_msg(d + "/sticky", 0o3777)), 0, CMD_MKDIR)
    check_eq(stat.S_IMODE(os.stat(d + "/sticky").st_mode) & 0o7000, 0, "special bits on mkdir")


@case
def opening_a_fifo_does_not_hang_the_broker():
    d = tree()
    os.mkfifo(d + "/fifo")
    br = broker("rw:%s/" % d)
    t = time.monotonic()
    r = open_(br.sock, d + "/fifo")        # no writer: must not block
    flags = fcntl.fcntl(r.fd, fcntl.F_GETFL)
    check(not flags & os.O_NONBLOCK, "O_NONBLOCK left on the fd the client did not ask for")
    # Now there is a reader (our fd), so opening for writing succeeds.
    w = open_(br.sock, d + "/fifo", os.O_WRONLY)
    os.write(w.fd, b"through the fifo")
    check_eq(os.read(r.fd, 100), b"through the fifo")
    check(time.monotonic() - t < 5, "FIFO opens took too long")
    open_(br.sock, d + "/file")


@case
def opening_a_fifo_for_writing_without_reader_gets_enxio():
    d = tree()
    os.mkfifo(d + "/fifo")
    br = broker("rw:%s/" % d)
    open_(br.sock, d + "/fifo", os.O_WRONLY, want=-errno.ENXIO)
    open_(br.sock, d + "/file")


@case
def deny_inside_an_allowed_tree_is_refused():
    d = tree()
    write(d + "/private/key", b"key")
    br = broker("rwcd:%s/" % d, "!%s/private/" % d)
    open_(br.sock, d + "/private/key", want=EACCES)
    open_(br.sock, d + "/private/new", os.O_WRONLY | os.O_CREAT, 0o600, want=EACCES)
    check_result(request(br.sock, ohtest.unlink_msg(d + "/private/key")), EACCES, CMD_UNLINK)
    check_eq(ls(d + "/private"), ["key"])
    open_(br.sock, d + "/file")


def battery(sock, d):
    """A fixed series of requests; returns their results."""
    out = []
    for p, flags in ((d + "/file", os.O_RDONLY), (d + "/file", os.O_WRONLY),
                     (d + "/sub/inner", os.O_RDONLY), (d + "/sub/inner", os.O_RDWR),
                     (d + "/private/key", os.O_RDONLY), (path("secret"), os.O_RDONLY),
                     (d + "/sub/new", os.O_WRONLY | os.O_CREAT)):
        r = request(sock, ohtest.open_msg(p, flags, 0o600))
        r.close()
        out.append(r.result)
    return out


@case
def policy_file_and_command_line_rules_are_equivalent():
    d = tree()
    write(d + "/private/key", b"key")
    rules = path("policy.conf")
    write(rules, "# test policy\nallow r %s/\nallow rw %s/sub/\n\ndeny %s/private/\n" % (d, d, d))
    from_file = Broker(["--policy", rules], quiet=True)
    from_cli = broker("r:%s/" % d, "rw:%s/sub/" % d, "!%s/private/" % d)
    want = [0, EACCES, 0, 0, EACCES, EACCES, EACCES]
    check_eq(battery(from_file.sock, d), want, "with --policy")
    check_eq(battery(from_cli.sock, d), want, "with --allow/--deny")


# ---- The extensions, each allowed and refused -----------------------------

def op(br, msg, command, want):
    return check_result(request(br.sock, msg), want, command)


@case
def mkdir_is_allowed_with_c_and_refused_without():
    d = tree()
    op(broker("rw:%s/" % d), ohtest.mkdir_msg(d + "/nd"), CMD_MKDIR, EACCES)
    check(not os.path.exists(d + "/nd"), "created without c")
    op(broker("c:%s/" % d), ohtest.mkdir_msg(d + "/nd", 0o700), CMD_MKDIR, 0)
    check(os.path.isdir(d + "/nd"), "not created with c")


@case
def unlink_is_allowed_with_d_and_refused_without():
    d = tree()
    op(broker("rwc:%s/" % d), ohtest.unlink_msg(d + "/file"), CMD_UNLINK, EACCES)
    check(os.path.exists(d + "/file"), "removed without d")
    op(broker("d:%s/" % d), ohtest.unlink_msg(d + "/file"), CMD_UNLINK, 0)
    check(not os.path.exists(d + "/file"), "not removed with d")
    op(broker("d:%s/" % d), ohtest.unlink_msg(path("secret")), CMD_UNLINK, EACCES)
    check(os.path.exists(path("secret")), "outside file removed")


@case
def rmdir_is_allowed_with_d_and_refused_without():
    d = tree()
    os.mkdir(d + "/empty")
    op(broker("rwc:%s/" % d), ohtest.rmdir_msg(d + "/empty"), CMD_RMDIR, EACCES)
    check(os.path.isdir(d + "/empty"), "removed without d")
    op(broker("d:%s/" % d), ohtest.rmdir_msg(d + "/empty"), CMD_RMDIR, 0)
    check(not os.path.exists(d + "/empty"), "not removed with d")
    op(broker("d:%s/" % d), ohtest.rmdir_msg(path("outsidedir")), CMD_RMDIR, EACCES)
    check(os.path.isdir(path("outsidedir")), "outside dir removed")


@case
def rename_is_allowed_with_d_and_c_and_refused_without():
    d = tree()
    msg = ohtest.rename_msg(d + "/file", d + "/moved")
    op(broker("rwc:%s/" % d), msg, CMD_RENAME, EACCES)      # no d on the old name
    op(broker("rwd:%s/" % d), msg, CMD_RENAME, EACCES)      # no c on the new name
    check_eq(ls(d), ["file", "sub"], "after refused renames")
    op(broker("cd:%s/" % d), msg, CMD_RENAME, 0)
    check_eq(ls(d), ["moved", "sub"], "after the allowed rename")
    # Out of the tree is refused whatever the letters inside.
    op(broker("rwcd:%s/" % d), ohtest.rename_msg(d + "/moved", path("stolen")), CMD_RENAME, EACCES)
    check(not os.path.exists(path("stolen")), "renamed out of the policy")


@case
def rename_without_d_on_the_target_does_not_replace_it():
    d = tree()
    write(d + "/other", b"other")
    br = broker("cd:%s/file" % d, "c:%s/other" % d)
    op(br, ohtest.rename_msg(d + "/file", d + "/other"), CMD_RENAME, EACCES)
    check_eq(read(d + "/other"), b"other", "target replaced without d")


@case
def symlink_is_allowed_with_c_and_refused_without():
    d = tree()
    msg = ohtest.symlink_msg("file", d + "/ln")
    op(broker("rwd:%s/" % d), msg, CMD_SYMLINK, EACCES)
    check(not os.path.lexists(d + "/ln"), "created without c")
    op(broker("c:%s/" % d), msg, CMD_SYMLINK, 0)
    check_eq(os.readlink(d + "/ln"), "file")
    op(broker("rwcd:%s/" % d), ohtest.symlink_msg("x", path("outlink")), CMD_SYMLINK, EACCES)
    check(not os.path.lexists(path("outlink")), "link created outside")


@case
def link_is_allowed_with_c_and_refused_without():
    d = tree()
    msg = ohtest.link_msg(d + "/file", d + "/hard")
    op(broker("rwd:%s/" % d), msg, CMD_LINK, EACCES)
    check(not os.path.exists(d + "/hard"), "created without c")
    op(broker("rc:%s/" % d), msg, CMD_LINK, 0)
    check_eq(os.stat(d + "/hard").st_ino, os.stat(d + "/file").st_ino, "same inode")
    # Linking an outside file into the tree would leak it.
    op(broker("rwcd:%s/" % d), ohtest.link_msg(path("secret"), d + "/leak"), CMD_LINK, EACCES)
    check(not os.path.exists(d + "/leak"), "outside file linked in")


@case
def truncate_is_allowed_with_w_and_refused_without():
    d = tree()
    op(broker("rcd:%s/" % d), ohtest.truncate_msg(d + "/file", 4), CMD_TRUNCATE, EACCES)
    check_eq(read(d + "/file"), b"data file\n", "truncated without w")
    op(broker("w:%s/" % d), ohtest.truncate_msg(d + "/file", 4), CMD_TRUNCATE, 0)
    check_eq(read(d + "/file"), b"data", "after the allowed truncate")


if __name__ == "__main__":
    sys.exit(ohtest.main())

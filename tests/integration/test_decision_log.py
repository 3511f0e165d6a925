#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the broker says about its decisions: JSON lines in --log and, for a
denial, a line on stderr naming the rule that would allow it."""

import errno
import os
import re
import sys
import threading

import ohtest
from ohtest import (CMD_MKDIR, CMD_OPEN, CMD_RENAME, Broker, case, check,
                    check_eq, check_result, open_, path, request, write)

RFC3339_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = ["time", "pid", "command", "command_number", "path", "path2", "flags",
          "flag_names", "mode", "decision", "errno", "errno_number"]


def data():
    write(path("data", "file"), b"x")
    write(path("secret"), b"s")
    return path("data")


@case
def log_lines_are_json_with_every_field():
    d = data()
    br = Broker(["--allow", "rwc:%s/" % d], log=True, quiet=True)
    open_(br.sock, d + "/file")
    open_(br.sock, path("secret"), os.O_WRONLY, want=-errno.EACCES)
    open_(br.sock, d + "/missing", want=-errno.ENOENT)
    open_(br.sock, d + "/new", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
    check_result(request(br.sock, ohtest.mkdir_msg(d + "/dir", 0o750)), 0, CMD_MKDIR)
    check_result(request(br.sock, ohtest.rename_msg(d + "/file", d + "/f2", 1)), -errno.EACCES,
                 CMD_RENAME)
    br.stop()
    log = br.log()
    check_eq(len(log), 6, "lines")
    for e in log:
        check_eq(list(e)[:len(FIELDS)], FIELDS, "keys")
        check(RFC3339_MS_UTC.match(e["time"]), "time %r" % e["time"])
        check_eq(e["pid"], os.getpid(), "pid of the sender")
    ok, denied, missing, created, mkdir, rename = log
    check_eq((ok["command"], ok["command_number"], ok["path"], ok["path2"]),
             ("open", CMD_OPEN, d + "/file", None))
    check_eq((ok["decision"], ok["errno"], ok["errno_number"]), ("allow", None, 0))
    check_eq(ok["flag_names"], ["O_RDONLY"])
    check_eq((denied["decision"], denied["errno"], denied["errno_number"]),
             ("deny", "EACCES", errno.EACCES))
    check_eq((denied["flags"], denied["flag_names"]), (os.O_WRONLY, ["O_WRONLY"]))
    check("--allow" in denied.get("hint", ""), "hint in %r" % denied)
    check_eq((missing["decision"], missing["errno"]), ("error", "ENOENT"))
    check_eq(created["flags"], os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC)
    check_eq(created["flag_names"], ["O_WRONLY", "O_CREAT", "O_CLOEXEC"])
    check_eq((created["mode"], created["decision"]), (0o640, "allow"))
    check_eq((mkdir["command"], mkdir["mode"], mkdir["flag_names"]), ("mkdir", 0o750, []))
    check_eq((rename["command"], rename["path"], rename["path2"]), ("rename", d + "/file", d + "/f2"))
    check_eq(rename["flag_names"], ["RENAME_NOREPLACE"])


@case
def log_escapes_every_byte_of_a_hostile_path():
    d = data()
    br = Broker(["--allow", "r:%s/" % d], log=True, quiet=True)
    names = [b'quote"back\\slash', b"new\nline\ttab\r\x01\x1f\x7f", b"utf8-\xc3\xa9-\xe2\x82\xac",
             b"bad-\xff\xfe-\xc3-\xed\xa0\x80-\xc0\xaf", b"\xf0\x9f\x98\x80"]
    for n in names:
        request(br.sock, ohtest.open_msg(os.fsencode(d) + b"/" + n))
    br.stop()
    raw = open(br.log_path, "rb").read()
    check_eq(raw.count(b"\n"), len(names), "one line per request, whatever the path")
    for n, e in zip(names, br.log()):
        got = e["path"].encode("utf-8", "surrogateescape")
        check_eq(got, os.fsencode(d) + b"/" + n, "path bytes recovered")


@case
def concurrent_decisions_produce_whole_lines():
    d = data()
    br = Broker(["--allow", "r:%s/" % d], mode="listen", log=True, quiet=True,
                extra=["--threads", "4"])
    long_name = d + "/" + "L" * 3000

    def client():
        s = br.connect()
        for i in range(200):
            request(s, ohtest.open_msg(long_name if i % 2 else d + "/file")).close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    br.stop()
    log = br.log()
    check_eq(len(log), 800, "lines")
    check_eq(sum(e["path"] == long_name for e in log), 400, "long lines intact")


@case
def denial_on_stderr_names_the_allow_that_would_permit_it():
    d = data()
    br = Broker(["--allow", "r:%s/" % d])
    target = d + "/file"
    open_(br.sock, target, os.O_WRONLY, want=-errno.EACCES)
    br.stop()
    lines = [l for l in br.stderr().splitlines() if "denied" in l]
    check_eq(len(lines), 1, "denial lines: %r" % br.stderr())
    m = re.match(r"^openhook: denied open (\S+) for writing \(O_WRONLY\): add (--allow \S+)$", lines[0])
    check(m, "denial line: %r" % lines[0])
    check_eq(m.group(1), target)
    # Following the advice works.
    flag, rule = m.group(2).split(" ", 1)
    br2 = Broker(["--allow", "r:%s/" % d, flag, rule], quiet=True)
    open_(br2.sock, target, os.O_WRONLY)


@case
def denial_by_a_deny_rule_says_which_rule():
    d = data()
    br = Broker(["--allow", "r:%s/" % d, "--deny", d + "/file"])
    open_(br.sock, d + "/file", want=-errno.EACCES)
    br.stop()
    line = [l for l in br.stderr().splitlines() if "denied" in l]
    check(line and "for reading (O_RDONLY)" in line[0] and "deny" in line[0].split(":", 2)[2],
          "denial line: %r" % line)


@case
def denial_line_cannot_be_forged_by_a_path_with_a_newline():
    d = data()
    br = Broker(["--allow", "r:%s/" % d])
    request(br.sock, ohtest.open_msg(path("x\nopenhook: fake")))
    br.stop()
    check(not any(l.startswith("openhook: fake") for l in br.stderr().splitlines()),
          "forged line: %r" % br.stderr())


@case
def quiet_prints_no_denials():
    d = data()
    br = Broker(["--allow", "r:%s/" % d], quiet=True)
    open_(br.sock, path("secret"), want=-errno.EACCES)
    br.stop()
    check_eq(br.stderr(), "", "stderr")


if __name__ == "__main__":
    sys.exit(ohtest.main())

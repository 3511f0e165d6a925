#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`openhook check`: a valid policy is printed as understood; every error
is reported with FILE:LINE; bad command lines are usage errors."""

import sys

import ohtest
from ohtest import case, check, check_eq, path, run_openhook, write


@case
def valid_policy_exits_0_and_prints_each_rule_with_its_origin():
    f = write(path("ok.conf"), "# comment\n\nallow rw /srv/data/\nallow r /etc/hosts\ndeny /srv/data/private/\n")
    status, out, err = run_openhook("check", "--policy", f, "--allow", "c:/var/tmp/x/")
    check_eq(status, 0, "exit status (stderr: %s)" % err)
    lines = out.splitlines()
    check_eq(len(lines), 4, "one line per rule: %r" % out)
    check(lines[0].startswith("allow rw /srv/data/") and f + ":3" in lines[0], lines[0])
    check(lines[1].startswith("allow r /etc/hosts") and f + ":4" in lines[1], lines[1])
    check(lines[2].startswith("deny /srv/data/private/") and f + ":5" in lines[2], lines[2])
    check(lines[3].startswith("allow c /var/tmp/x/") and "--allow" in lines[3], lines[3])


@case
def printed_rules_are_canonical_and_load_again():
    f = write(path("messy.conf"), "allow wr /srv//data/./sub//\n")
    status, out, _ = run_openhook("check", "--policy", f)
    check_eq(status, 0, "exit status")
    check(out.startswith("allow rw /srv/data/sub/\t"), "canonical form: %r" % out)
    reload_gives_the_same_rules(out)


def reload_gives_the_same_rules(out):
    rules = "".join(line.split("\t#")[0] + "\n" for line in out.splitlines())
    again = write(path("again.conf"), rules)
    status, out2, err = run_openhook("check", "--policy", again)
    check_eq(status, 0, "the printed rules load again: " + err)
    check_eq([l.split("\t#")[0] for l in out2.splitlines()], rules.splitlines(), "same rules")


@case
def paths_with_blanks_and_quotes_are_printed_quoted():
    f = write(path("q.conf"), 'allow r "/srv/my data/"\ndeny "/srv/my data/a \\"q\\" b"\n')
    status, out, err = run_openhook("check", "--policy", f)
    check_eq(status, 0, "exit status: " + err)
    check(out.startswith('allow r "/srv/my data/"\t'), out)
    check('deny "/srv/my data/a \\"q\\" b"\t' in out, out)
    reload_gives_the_same_rules(out)


def check_reports(text, line, what=""):
    f = write(path("bad.conf"), text)
    status, out, err = run_openhook("check", "--policy", f)
    check_eq(status, 1, "exit status for %r" % text)
    check("%s:%d:" % (f, line) in err, "error for %r should name %s:%d, got %r" % (text, f, line, err))
    if what:
        check(what in err, "error for %r should say %r, got %r" % (text, what, err))
    return err


@case
def unknown_permission_letter_is_reported_with_file_and_line():
    check_reports("allow r /a/\nallow rq /b/\n", 2, "'q'")


@case
def relative_path_is_reported_with_file_and_line():
    check_reports("allow r relative/path\n", 1)


@case
def unknown_keyword_is_reported_with_file_and_line():
    check_reports("# fine\npermit r /a/\n", 2, "permit")


@case
def missing_path_is_reported_with_file_and_line():
    check_reports("allow r\n", 1)
    check_reports("deny\n", 1)


@case
def extra_words_are_reported_with_file_and_line():
    check_reports("allow r /a/ /b/\n", 1)


@case
def every_error_in_a_file_is_reported():
    err = check_reports("allow rq /a/\nallow r /ok/\npermit r /b/\nallow r rel\n", 1)
    f = path("bad.conf")
    for line in (1, 3, 4):
        check("%s:%d:" % (f, line) in err, "line %d missing from %r" % (line, err))


@case
def errors_in_several_files_are_all_reported():
    a = write(path("a.conf"), "allow q /a/\n")
    b = write(path("b.conf"), "allow r /b/\nnope\n")
    status, _, err = run_openhook("check", "--policy", a, "--policy", b)
    check_eq(status, 1, "exit status")
    check(a + ":1:" in err and b + ":2:" in err, err)


@case
def missing_policy_file_is_reported():
    status, _, err = run_openhook("check", "--policy", path("nope.conf"))
    check_eq(status, 1, "exit status")
    check(path("nope.conf") in err, err)


@case
def bad_command_line_rule_is_a_usage_error():
    status, _, err = run_openhook("check", "--allow", "r/no/colon")
    check_eq(status, 2, "exit status")
    check("r/no/colon" in err or "--allow" in err, err)


@case
def bad_check_flags_are_usage_errors():
    for args, what in ((["check"], "nothing to check"),
                       (["check", "--frob"], "frob"),
                       (["check", "--policy"], "--policy"),
                       (["check", "policy.conf"], "unexpected argument")):
        status, _, err = run_openhook(*args)
        check_eq(status, 2, "exit status of %r" % args)
        check(what in err, "message for %r: %r" % (args, err))


@case
def check_help_exits_0():
    status, out, _ = run_openhook("check", "--help")
    check_eq(status, 0)
    check("--policy FILE" in out, out)


if __name__ == "__main__":
    sys.exit(ohtest.main())

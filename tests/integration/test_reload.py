# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live policy: SIGHUP and --watch re-read the --policy files of a running
broker (openhook serve and openhook run), a file with an error or a policy
beyond the broker's Landlock ceiling keeps the policy in force, every
reload is a JSON line in the log, and `serve --listen` works under systemd
socket activation.  Real QEMU takes snapshots into a directory a reload
grants while it runs."""

import errno
import json
import os
import select
import shutil
import socket
import subprocess
import time

import ohtest
from ohtest import BIN, Broker, Failure, case, check, check_eq, path, write

EACCES = errno.EACCES


def policy_file(*rules):
    p = path("vm.policy")
    write(p, ("\n".join(rules) + "\n").encode())
    return p


def replace_by_rename(p, *rules):
    """As an editor saves: a new file renamed over the old one."""
    tmp = p + ".new"
    write(tmp, ("\n".join(rules) + "\n").encode())
    os.rename(tmp, p)


def try_open(br, p):
    """The result of an open through a new connection of BR: 0 or -errno."""
    s = br.connect()
    try:
        reply = ohtest.request(s, ohtest.open_msg(p))
        reply.close()
        return reply.result
    finally:
        s.close()


def settle(fn, want, timeout=30):
    """ohtest.settle, with room for a loaded machine: a reload is a few
    process wake-ups away."""
    return ohtest.settle(fn, want, timeout)


def reload_lines(br):
    return [line for line in br.log() if line.get("event") == "reload"]


def data_tree():
    write(path("data", "a"), b"a\n")
    write(path("data", "b"), b"b\n")
    write(path("other", "o"), b"o\n")


@case
def sighup_rereads_the_policy_files():
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    br = Broker(["--policy", pf, "--confine-to", path("data")], mode="listen", log=True, quiet=True)
    check_eq(try_open(br, path("data", "b")), -EACCES, "b before the reload")
    policy_file("allow r %s/" % path("data"))
    os.kill(br.proc.pid, 1)
    check_eq(settle(lambda: try_open(br, path("data", "b")), 0), 0, "b after SIGHUP")
    check_eq(settle(lambda: [l["result"] for l in reload_lines(br)], ["ok"]), ["ok"], "reload log lines")
    line = reload_lines(br)[0]
    check_eq(line["files"], [pf], "files in the log line")
    check_eq(line["rules"], 1, "rules in force")
    check(br.alive(), "broker alive")


@case
def watch_sees_a_write_in_place_and_a_save_by_rename():
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    br = Broker(["--policy", pf, "--watch", "--confine-to", path("data")], mode="listen", log=True,
                quiet=True)
    policy_file("allow r %s" % path("data", "b"))
    check_eq(settle(lambda: try_open(br, path("data", "b")), 0), 0, "b after a write in place")
    check_eq(try_open(br, path("data", "a")), -EACCES, "a after it left the policy")
    replace_by_rename(pf, "allow r %s" % path("data", "a"))
    check_eq(settle(lambda: try_open(br, path("data", "a")), 0), 0, "a after a save by rename")
    check_eq(try_open(br, path("data", "b")), -EACCES, "b after the rename")


@case
def watch_on_an_inherited_socket_sees_a_change_made_just_after_the_first_answer():
    """The reader is forked before the policy is loaded and waited for
    only before the first answer: a change made right after it counts."""
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    br = Broker(["--policy", pf, "--watch", "--confine-to", path("data")], log=True, quiet=True)

    def open_b():
        reply = ohtest.request(br.sock, ohtest.open_msg(path("data", "b")))
        reply.close()
        return reply.result

    check_eq(open_b(), -EACCES, "b before the change")
    policy_file("allow r %s" % path("data", "b"))
    check_eq(settle(open_b, 0), 0, "b after a write in place")
    check_eq(settle(lambda: [l["result"] for l in reload_lines(br)], ["ok"]), ["ok"], "reload log lines")


@case
def a_policy_file_with_an_error_keeps_the_policy_in_force():
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    br = Broker(["--policy", pf, "--watch"], mode="listen", log=True)
    policy_file("allow r %s" % path("data", "a"), "allow q %s" % path("data", "b"))
    check_eq(settle(lambda: [l["result"] for l in reload_lines(br)], ["error"]), ["error"], "log lines")
    check_eq(try_open(br, path("data", "a")), 0, "the old rule still holds")
    check_eq(try_open(br, path("data", "b")), -EACCES, "nothing of the bad file")
    err = br.stderr()
    check("%s:2:" % pf in err, "FILE:LINE on stderr:\n" + err)
    check("policy in force stays" in err, "says the old policy stays:\n" + err)
    check("%s:2:" % pf in reload_lines(br)[0]["error"], "FILE:LINE in the log line")
    os.unlink(pf)
    check_eq(settle(lambda: len(reload_lines(br)), 2), 2, "a reload when the file is removed")
    check_eq(try_open(br, path("data", "a")), 0, "a missing file keeps it too")
    check(br.alive(), "broker alive")


@case
def a_reload_beyond_the_ceiling_is_refused():
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    br = Broker(["--policy", pf, "--watch"], mode="listen", log=True)
    policy_file("allow r %s" % path("data", "a"), "allow r %s/" % path("other"))
    check_eq(settle(lambda: [l["result"] for l in reload_lines(br)], ["error"]), ["error"], "log lines")
    check("ceiling" in reload_lines(br)[0]["error"], "says why: " + reload_lines(br)[0]["error"])
    check_eq(try_open(br, path("other", "o")), -EACCES, "nothing beyond the ceiling")
    check("ceiling" in br.stderr(), "said on stderr")


@case
def a_reload_within_what_the_ceiling_grants_along_the_path_is_accepted():
    """Landlock adds up the rights of the directories along a path: r on
    data/ and w on data/sub/ let the broker read and write data/sub/f,
    though no one rule of the start policy grants both."""
    data_tree()
    write(path("data", "sub", "f"), b"f\n")
    pf = policy_file("allow r %s/" % path("data"), "allow w %s/" % path("data", "sub"))
    br = Broker(["--policy", pf, "--watch"], mode="listen", log=True, quiet=True)
    policy_file("allow rw %s" % path("data", "sub", "f"))
    check_eq(settle(lambda: [l["result"] for l in reload_lines(br)], ["ok"]), ["ok"], "log lines")
    s = br.connect()
    try:
        reply = ohtest.request(s, ohtest.open_msg(path("data", "sub", "f"), os.O_RDWR))
        check_eq(reply.result, 0, "data/sub/f read and written after the reload")
        reply.close()
    finally:
        s.close()
    check_eq(try_open(br, path("data", "a")), -EACCES, "data/a left the policy")


@case
def confine_to_must_hold_the_start_policy():
    data_tree()
    pf = policy_file("allow r %s/" % path("other"))
    p = subprocess.run([BIN, "serve", "--listen", path("s"), "--policy", pf, "--confine-to", path("data")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode != 0, "serve started with a policy outside --confine-to")
    check(b"--confine-to" in p.stderr, p.stderr.decode())
    check(not os.path.exists(path("s")), "no socket left behind")


@case
def socket_activation_serves_the_socket_systemd_passes():
    data_tree()
    sock_path = path("activated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(16)
    fd = listener.fileno()

    def as_fd_3():
        os.dup2(fd, 3)
        os.set_inheritable(3, True)

    # LISTEN_PID must be the broker's own pid: the shell's, kept by exec.
    cmd = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'
    proc = subprocess.Popen(["/bin/sh", "-c", cmd, "sh", BIN, "serve", "--listen", sock_path,
                             "--allow", "r:%s/" % path("data")],
                            preexec_fn=as_fd_3, close_fds=False, stderr=subprocess.PIPE, env=ohtest.env())
    ohtest.defer(lambda: proc.poll() is None and proc.kill())
    listener.close()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        reply = ohtest.request(s, ohtest.open_msg(path("data", "a")))
        check_eq(reply.result, 0, "served through the passed socket")
        check_eq(ohtest.fd_read(reply.fd), b"a\n", "content")
        s.close()
    finally:
        proc.terminate()
    check_eq(proc.wait(timeout=10), 0, "exit status: " + proc.stderr.read().decode())
    check(os.path.exists(sock_path), "the socket is systemd's: left in place")


# ---- openhook run --watch --------------------------------------------------------

# Prints, every 50 ms, whether each of two files opens: "ok" or the errno.
WATCHER = r"""
import os, sys, time
a, b, stop = sys.argv[1:4]
deadline = time.time() + 60
while time.time() < deadline and not os.path.exists(stop):
    res = []
    for p in (a, b):
        try:
            os.close(os.open(p, os.O_RDONLY))
            res.append("ok")
        except OSError as e:
            res.append(str(e.errno))
    print(" ".join(res), flush=True)
    time.sleep(0.05)
"""


def confined_watcher(mode, pf):
    argv = [BIN, "run"] + ohtest.mode_args(mode) + ["--policy", pf, "--watch", "--confine-to", path("data"),
                                                   "--", "/usr/bin/python3", "-c", WATCHER,
                                                   path("data", "a"), path("data", "b"), path("data", "stop")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ohtest.env(),
                            cwd=ohtest.tmp)


def wait_for_line(proc, want, timeout=20):
    deadline = time.time() + timeout
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        lines = buf.split(b"\n")
        if any(l.decode() == want for l in lines[:-1]):
            return
        buf = lines[-1]
    raise Failure("never saw %r from the command" % want)


@ohtest.scenario_per_mode(("preload", "seccomp", "seccomp-noshim"))
def run_watch_changes_what_the_command_may_open(mode):
    data_tree()
    pf = policy_file("allow r %s" % path("data", "a"))
    proc = confined_watcher(mode, pf)
    ohtest.defer(lambda: proc.poll() is None and proc.kill())
    wait_for_line(proc, "ok 13")
    replace_by_rename(pf, "allow r %s/" % path("data"))
    wait_for_line(proc, "ok ok")
    policy_file("allow r %s" % path("data", "b"))
    wait_for_line(proc, "13 ok")
    write(path("data", "stop"))
    check_eq(proc.wait(timeout=30), 0, "status: " + proc.stderr.read().decode())


@case
def run_keeps_sighup_for_the_command():
    pf = policy_file("allow r /nonexistent-x")
    p = subprocess.run([BIN, "run", "--policy", pf, "--watch", "--", "/bin/sh", "-c",
                        "trap 'echo got-hup; exit 7' HUP; kill -HUP $$; sleep 5"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=ohtest.env())
    check_eq(p.returncode, 7, "the command's own HUP: " + p.stderr.decode())
    check(b"got-hup" in p.stdout, p.stdout.decode())


# ---- Real QEMU ----------------------------------------------------------------

class Qmp:
    """QEMU's QMP on stdio: one JSON object per line."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def _line(self, timeout):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                raise Failure("QMP: no answer within %ss" % timeout)
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise Failure("QMP: QEMU ended: " + self.proc.stderr.read().decode(errors="replace"))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if not line.startswith(b"{"):
            return self._line(timeout)  # qemu-img's "Formatting ..." lines
        return json.loads(line)

    def greeting(self):
        check("QMP" in self._line(30), "QMP greeting")

    def execute(self, command, timeout=30, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            reply = self._line(timeout)
            if "return" in reply or "error" in reply:
                return reply


def need_qemu():
    for prog in ("qemu-system-x86_64", "qemu-img"):
        if not shutil.which(prog):
            raise ohtest.Skip("%s is not installed (scripts/install-deps installs it)" % prog)


def qemu_images():
    os.makedirs(path("pool", "snap"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path("pool", "base.qcow2"), "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", path("pool", "base.qcow2"), "-F", "qcow2",
                    path("pool", "top.qcow2")], check=True)


def attempt_until(snapshot, outcome, timeout=30):
    """Snapshots under new names until one gets OUTCOME ("return" or
    "error"; an error that left its file behind does not count: the reload
    came between QEMU's create and its open), as the reload takes effect a
    moment after the file changes.  Returns the name of that one."""
    deadline = time.time() + timeout
    for i in range(1000):
        name = "%s-%d.qcow2" % (outcome, i)
        reply = snapshot(name)
        if outcome in reply and (outcome == "return" or not os.path.exists(path("pool", "snap", name))):
            return name
        if time.time() > deadline:
            raise Failure("no snapshot got %r: %r" % (outcome, reply))
        time.sleep(0.2)


@ohtest.scenario_per_mode(("preload", "seccomp"))
def qemu_snapshots_into_a_directory_a_reload_grants(mode):
    need_qemu()
    qemu_images()
    chain = ["allow r %s" % path("pool", "base.qcow2"), "allow rw %s" % path("pool", "top.qcow2")]
    pf = policy_file(*chain)
    argv = [BIN, "run"] + ohtest.mode_args(mode) + [
        "--policy", pf, "--watch", "--confine-to", path("pool"), "--",
        "qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio",
        "-drive", "if=none,id=disk0,file=%s" % path("pool", "top.qcow2")]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ohtest.env(), cwd=ohtest.tmp)
    ohtest.defer(lambda: proc.poll() is None and proc.kill())
    qmp = Qmp(proc)
    qmp.greeting()
    check("return" in qmp.execute("qmp_capabilities"), "qmp_capabilities")

    def snapshot(name):
        return qmp.execute("blockdev-snapshot-sync", device="disk0", format="qcow2",
                           **{"snapshot-file": path("pool", "snap", name)})

    reply = snapshot("s1.qcow2")
    check("error" in reply, "a snapshot where the policy grants nothing: %r" % reply)
    check(not os.path.exists(path("pool", "snap", "s1.qcow2")), "nothing created there")

    replace_by_rename(pf, *(chain + ["allow rwc %s/" % path("pool", "snap")]))
    made = attempt_until(snapshot, "return")
    check(os.path.exists(path("pool", "snap", made)), "the new top exists on disk")

    policy_file(*chain)
    refused = attempt_until(snapshot, "error")
    check(not os.path.exists(path("pool", "snap", refused)), "nothing created once the rule is gone")
    check("return" in qmp.execute("quit"), "quit")
    check_eq(proc.wait(timeout=30), 0, "QEMU's status: " + proc.stderr.read().decode(errors="replace"))
    info = subprocess.run(["qemu-img", "info", "--backing-chain", path("pool", "snap", made)],
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    check("base.qcow2" in info and "top.qcow2" in info, "the chain on disk:\n" + info)


if __name__ == "__main__":
    raise SystemExit(ohtest.main())

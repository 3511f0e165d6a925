#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`openhook serve` as a program: its lifetime in --fd and --listen mode,
many clients at once, clients that misbehave, and its command line."""

import errno
import os
import resource
import signal
import socket
import stat
import sys
import threading
import time

import ohtest
from ohtest import (CMD_CONNECT, CMD_OPEN, Broker, case, check, check_eq,
                    check_result, fd_read, open_, open_msg, path, request,
                    run_openhook, write)


def allow_data():
    write(path("data", "hello"), b"hello\n")
    return ["--allow", "r:%s/" % path("data")]


# ---- Lifetime --------------------------------------------------------------

@case
def serve_fd_exits_0_when_the_client_hangs_up():
    br = Broker(allow_data())
    open_(br.sock, path("data", "hello"))
    br.sock.close()
    check_eq(br.wait(), 0, "exit status")


@case
def serve_fd_lives_until_connections_made_with_connect_hang_up():
    br = Broker(allow_data(), sock_type=socket.SOCK_SEQPACKET)
    r = check_result(request(br.sock, ohtest.message(CMD_CONNECT)), 0, CMD_CONNECT)
    private = socket.socket(fileno=r.fds.pop())
    br.sock.close()
    time.sleep(0.2)
    check(br.alive(), "broker exited while a CONNECT connection was open")
    check_eq(fd_read(open_(private, path("data", "hello")).fd), b"hello\n")
    private.close()
    check_eq(br.wait(), 0, "exit status")


@case
def listen_socket_is_created_mode_0600():
    br = Broker(allow_data(), mode="listen")
    st = os.lstat(br.sock_path)
    check(stat.S_ISSOCK(st.st_mode), "not a socket")
    check_eq(oct(stat.S_IMODE(st.st_mode)), oct(0o600), "socket mode")


@case
def listen_refuses_to_clobber_a_file_that_is_not_a_socket():
    write(path("broker.sock"), b"precious")
    status, _, err = run_openhook("serve", "--listen", path("broker.sock"), *allow_data())
    check_eq(status, 1, "exit status")
    check("not a socket" in err, "message: " + err)
    check_eq(ohtest.read(path("broker.sock")), b"precious", "file content")


@case
def listen_replaces_a_stale_socket():
    s = socket.socket(socket.AF_UNIX)
    s.bind(path("broker.sock"))
    s.close()                   # bound, never listening: nobody answers
    br = Broker(allow_data(), mode="listen")
    open_(br.connect(), path("data", "hello"))


@case
def listen_refuses_a_socket_another_broker_serves():
    br = Broker(allow_data(), mode="listen")
    status, _, err = run_openhook("serve", "--listen", br.sock_path, *allow_data())
    check_eq(status, 1, "exit status")
    check("already serving" in err, "message: " + err)
    open_(br.connect(), path("data", "hello"))


@case
def sigterm_stops_listen_cleanly_and_removes_the_socket():
    br = Broker(allow_data(), mode="listen")
    c = br.connect()
    open_(c, path("data", "hello"))
    br.proc.send_signal(signal.SIGTERM)
    check_eq(br.wait(), 0, "exit status")
    br.check_exit(0)
    check(not os.path.lexists(br.sock_path), "socket left behind")


@case
def sigint_stops_listen_cleanly():
    br = Broker(allow_data(), mode="listen")
    br.proc.send_signal(signal.SIGINT)
    check_eq(br.wait(), 0, "exit status")
    br.check_exit(0)
    check(not os.path.lexists(br.sock_path), "socket left behind")


# ---- Many clients, bad clients ----------------------------------------------

@case
def a_thousand_clients_connected_at_once_are_all_served():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    br = Broker(allow_data(), mode="listen", quiet=True)
    clients = [br.connect() for _ in range(1000)]
    msg = open_msg(path("data", "hello"))
    for c in clients:
        c.sendall(msg)
    for i, c in enumerate(clients):
        r = check_result(ohtest.recv_reply(c, timeout=30), 0, CMD_OPEN, "client %d" % i)
        r.close()
    for c in clients:
        c.close()


def timed_open(sock, limit):
    t = time.monotonic()
    open_(sock, path("data", "hello")).close()
    took = time.monotonic() - t
    check(took < limit, "a request took %.2fs behind a stalled client" % took)


@case
def a_client_that_stops_mid_message_does_not_delay_others():
    br = Broker(allow_data(), mode="listen", extra=["--threads", "1"])
    stalled = br.connect()
    stalled.sendall(open_msg(path("data", "hello"))[:7])
    other = br.connect()
    for _ in range(20):
        timed_open(other, 1.0)


@case
def a_client_that_never_reads_its_replies_does_not_delay_others():
    br = Broker(allow_data(), mode="listen", extra=["--threads", "1"], quiet=True)
    deaf = br.connect()
    deaf.setblocking(False)
    msg = open_msg(path("data", "hello")) * 64
    sent = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until its socket buffers are full
        try:
            sent += deaf.send(msg)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                sent += deaf.send(msg)
            except BlockingIOError:
                break
    check(sent > 0, "could not send anything")
    other = br.connect()
    for _ in range(20):
        timed_open(other, 1.0)
    check(br.alive(), "broker died")


@case
def clients_in_parallel_threads_each_get_their_own_files():
    for n in range(8):
        write(path("data", "f%d" % n), b"content %d" % n)
    br = Broker(allow_data(), mode="listen")
    errors = []

    def client(n):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(br.sock_path)
            for _ in range(100):
                r = ohtest.request(s, open_msg(path("data", "f%d" % n)))
                fd = r.fds[0]
                data = os.pread(fd, 100, 0)
                r.fds.clear()
                os.close(fd)
                if data != b"content %d" % n:
                    errors.append("client %d got %r" % (n, data))
                    return
            s.close()
        except Exception as e:
            errors.append("client %d: %s" % (n, e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check_eq(errors, [])


# ---- The command line --------------------------------------------------------

def usage_error(args, expect):
    status, out, err = run_openhook(*args)
    check_eq(status, 2, "exit status of openhook %s" % " ".join(args))
    check(expect in err, "message for %r should mention %r, got: %r" % (args, expect, err))
    check("openhook" in err, "message names the program")


@case
def serve_without_fd_or_listen_is_a_usage_error():
    usage_error(["serve"] + allow_data(), "--fd N or --listen")


@case
def serve_with_both_fd_and_listen_is_a_usage_error():
    usage_error(["serve", "--fd", "0", "--listen", path("s")] + allow_data(), "cannot be used together")


@case
def serve_with_a_non_numeric_fd_is_a_usage_error():
    for bad in ("abc", "-1", "3x", "", "99999999999"):
        usage_error(["serve", "--fd", bad] + allow_data(), "not a file descriptor number")


@case
def serve_with_a_closed_fd_is_a_usage_error():
    usage_error(["serve", "--fd", "987"] + allow_data(), "not an open file descriptor")


@case
def serve_with_an_fd_that_is_not_a_socket_is_a_usage_error():
    usage_error(["serve", "--fd", "0"] + allow_data(), "not a socket")   # /dev/null


@case
def serve_with_a_listening_fd_is_a_usage_error():
    s = socket.socket(socket.AF_UNIX)
    s.bind(path("l.sock"))
    s.listen()
    args = [ohtest.BIN, "serve", "--fd", str(s.fileno())] + allow_data()
    p = ohtest.subprocess.run(args, pass_fds=[s.fileno()], capture_output=True, env=ohtest.env())
    check_eq(p.returncode, 2, "exit status")
    check(b"listening socket" in p.stderr, p.stderr.decode())


@case
def serve_without_rules_is_a_usage_error():
    usage_error(["serve", "--listen", path("s")], "no rules")
    check(not os.path.exists(path("s")), "socket created anyway")


@case
def serve_with_an_unknown_option_is_a_usage_error():
    usage_error(["serve", "--bogus"] + allow_data(), "bogus")


@case
def serve_with_a_missing_option_value_is_a_usage_error():
    usage_error(["serve", "--listen", path("s")] + allow_data() + ["--log"], "--log")


@case
def serve_with_a_bad_allow_rule_is_a_usage_error():
    usage_error(["serve", "--listen", path("s"), "--allow", "rq:/tmp/"], "--help")
    usage_error(["serve", "--listen", path("s"), "--allow", "r:relative/"], "--help")


@case
def serve_with_a_bad_thread_count_is_a_usage_error():
    usage_error(["serve", "--listen", path("s"), "--threads", "0"] + allow_data(), "--threads")


@case
def serve_with_an_unexpected_argument_is_a_usage_error():
    usage_error(["serve", "--listen", path("s"), "extra"] + allow_data(), "unexpected argument 'extra'")


@case
def serve_with_a_bad_policy_file_fails_with_file_and_line():
    write(path("bad.conf"), "allow r /ok/\nallow rz /bad/\n")
    status, _, err = run_openhook("serve", "--listen", path("s"), "--policy", path("bad.conf"))
    check_eq(status, 1, "exit status")
    check(path("bad.conf") + ":2" in err, "message: " + err)


@case
def serve_with_an_unwritable_log_fails():
    status, _, err = run_openhook("serve", "--listen", path("s"), "--log", path("no", "dir", "log"),
                                  *allow_data())
    check_eq(status, 1, "exit status")
    check("--log" in err and "No such file" in err, "message: " + err)


@case
def help_and_version_exit_0():
    for args in (["--help"], ["help"], ["-h"]):
        status, out, _ = run_openhook(*args)
        check_eq(status, 0, "openhook %s" % args)
        check("serve" in out and "check" in out and "run" in out, out)
        check("Exit status" in out, "exit codes documented in --help")
    for args in (["serve", "--help"], ["help", "serve"]):
        status, out, _ = run_openhook(*args)
        check_eq(status, 0, "openhook %s" % args)
        check("--listen SOCKET" in out, out)
    status, out, _ = run_openhook("--version")
    check_eq(status, 0)
    check(out.startswith("openhook "), out)


@case
def unknown_or_missing_command_is_a_usage_error():
    usage_error([], "missing command")
    usage_error(["frobnicate"], "unknown command 'frobnicate'")
    usage_error(["--frob"], "unknown option")
    usage_error(["help", "frobnicate"], "unknown command")


@case
def confinement_warning_is_printed_once_unless_quiet():
    br = Broker(allow_data(), mode="listen")
    open_(br.connect(), path("data", "hello"))
    err = br.stderr()
    check(err.count("confine") <= 1, "more than one confinement message: " + err)
    br2 = Broker(allow_data(), mode="fd", quiet=True)
    open_(br2.sock, path("data", "hello"))
    br2.stop()
    check_eq(br2.stderr(), "", "stderr with --quiet")


if __name__ == "__main__":
    sys.exit(ohtest.main())

#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The seed protocol spoken byte by byte to `openhook serve`: replies,
framing, malformed input, and the fds that cross the socket."""

import os
import select
import socket
import struct
import sys
import time

import ohtest
from ohtest import (CMD_OPEN, Broker, case, check, check_eq, check_result,
                    expect_closed, fd_read, open_, open_msg, path, request,
                    write)


def data_broker(**kw):
    """A broker allowing r on the data/ tree (with a file in it) and
    nothing else; secret is outside."""
    write(path("data", "hello"), b"hello world\n")
    write(path("secret"), b"secret\n")
    return Broker(["--allow", "r:%s/" % path("data")], **kw)


def hello_works(sock):
    """The connection is still usable: an allowed open still succeeds."""
    r = open_(sock, path("data", "hello"))
    check_eq(fd_read(r.fd), b"hello world\n", "content read through the fd")


@case
def allowed_open_returns_an_fd_to_the_requested_file():
    br = data_broker()
    r = open_(br.sock, path("data", "hello"))
    check_eq(fd_read(r.fd), b"hello world\n")
    st, want = os.fstat(r.fd), os.stat(path("data", "hello"))
    check_eq((st.st_dev, st.st_ino), (want.st_dev, want.st_ino), "fd is the requested file")


@case
def filename_with_one_trailing_nul_is_accepted():
    br = data_broker()
    r = check_result(request(br.sock, open_msg(path("data", "hello"), nul=True)), 0, CMD_OPEN)
    check_eq(fd_read(r.fd), b"hello world\n")


@case
def filename_with_two_trailing_nuls_is_refused_and_connection_stays_usable():
    br = data_broker()
    msg = open_msg(ohtest.b(path("data", "hello")) + b"\0", nul=True)
    check_result(request(br.sock, msg), -ohtest.errno.EINVAL, CMD_OPEN)
    hello_works(br.sock)


@case
def embedded_nul_gets_einval_and_connection_stays_usable():
    br = data_broker()
    bad = ohtest.b(path("data", "hello")) + b"\0/../../secret"
    check_result(request(br.sock, open_msg(bad)), -ohtest.errno.EINVAL, CMD_OPEN)
    hello_works(br.sock)


@case
def empty_filename_gets_an_error_and_connection_stays_usable():
    br = data_broker()
    r = request(br.sock, open_msg(b""))
    check(r.result < 0, "empty filename answered %d" % r.result)
    check_eq(r.fds, [], "fds with an error reply")
    hello_works(br.sock)


@case
def relative_filename_gets_einval_and_connection_stays_usable():
    br = data_broker()
    ohtest.defer(os.chdir, os.getcwd())
    os.chdir(path("data"))      # would make "hello" meaningful to a naive broker
    check_result(request(br.sock, open_msg(b"hello")), -ohtest.errno.EINVAL, CMD_OPEN)
    check_result(request(br.sock, open_msg(b"data/hello")), -ohtest.errno.EINVAL, CMD_OPEN)
    hello_works(br.sock)


@case
def unknown_command_gets_enosys_with_the_same_command_number():
    br = data_broker()
    for command in (0, 99, 77, 0xFFFFFFFF):
        r = request(br.sock, ohtest.message(command, b"some payload"))
        check_eq(r.command, command, "command echoed")
        check_result(r, -ohtest.errno.ENOSYS, command)
        hello_works(br.sock)


def framing_breaks_connection(raw, what):
    """In --listen mode: RAW closes its connection, another client that was
    already connected is still served, a new one too, and the broker tells."""
    write(path("data", "hello"), b"hello world\n")
    br = Broker(["--allow", "r:%s/" % path("data")], mode="listen", log=True)
    bystander = br.connect()
    bad = br.connect()
    bad.sendall(raw)
    expect_closed(bad)
    check(br.alive(), "broker died on " + what)
    hello_works(bystander)
    hello_works(br.connect())
    log = br.log()
    check(any(e["errno"] == "EPROTO" for e in log), "no EPROTO line in the log: %r" % log)
    check("closed the connection" in br.stderr(), "no stderr line about " + what)


@case
def message_size_below_8_closes_the_connection_only():
    framing_breaks_connection(struct.pack("=II", 4, CMD_OPEN) + b"xxxxxxxx", "size 4")


@case
def message_size_above_max_closes_the_connection_only():
    framing_breaks_connection(struct.pack("=II", ohtest.MSG_MAX + 1, CMD_OPEN), "size max+1")


@case
def huge_message_size_closes_the_connection_only():
    framing_breaks_connection(struct.pack("=II", 0xFFFFFFFF, CMD_OPEN), "size 2^32-1")


@case
def payload_shorter_than_fixed_fields_closes_the_connection_only():
    # flags only: no mode, no filename_len
    framing_breaks_connection(struct.pack("=III", 12, CMD_OPEN, 0), "12-byte open")


@case
def payload_shorter_than_filename_len_closes_the_connection_only():
    name = ohtest.b(path("data", "hello"))
    msg = struct.pack("=IIIIH", 8 + 10 + len(name), CMD_OPEN, 0, 0, len(name) + 5) + name
    framing_breaks_connection(msg, "filename_len beyond the message")


@case
def request_sent_one_byte_at_a_time_is_answered():
    br = data_broker()
    msg = open_msg(path("data", "hello"))
    for i in range(len(msg)):
        br.sock.send(msg[i:i + 1])
        if i == len(msg) // 2:
            time.sleep(0.05)    # the broker must be waiting mid-message
    r = check_result(ohtest.recv_reply(br.sock), 0, CMD_OPEN)
    check_eq(fd_read(r.fd), b"hello world\n")


@case
def pipelined_requests_are_answered_in_order():
    br = data_broker()
    names = ["a", "b", "c", "d", "e"]
    for n in names:
        write(path("data", n), n.encode() * 3)
    msgs = []
    for i, n in enumerate(names):
        msgs.append(open_msg(path("data", n)))
        if i % 2:       # interleave refusals and errors with successes
            msgs.append(open_msg(path("secret")))
            msgs.append(ohtest.message(99))
    br.sock.sendall(b"".join(msgs))
    for i, n in enumerate(names):
        r = check_result(ohtest.recv_reply(br.sock), 0, CMD_OPEN, n)
        check_eq(fd_read(r.fd), n.encode() * 3, "reply %d is for %s" % (i, n))
        if i % 2:
            check_result(ohtest.recv_reply(br.sock), -ohtest.errno.EACCES, CMD_OPEN)
            check_result(ohtest.recv_reply(br.sock), -ohtest.errno.ENOSYS, 99)


@case
def seqpacket_connection_is_served():
    br = data_broker(sock_type=socket.SOCK_SEQPACKET)
    hello_works(br.sock)
    check_result(request(br.sock, open_msg(path("secret"))), -ohtest.errno.EACCES, CMD_OPEN)
    hello_works(br.sock)


@case
def seqpacket_datagram_shorter_than_its_size_closes_the_connection():
    br = data_broker(sock_type=socket.SOCK_SEQPACKET, expect_status=0)
    msg = open_msg(path("data", "hello"))
    br.sock.send(msg[:-3])
    expect_closed(br.sock)
    # That was the only connection: the broker is done.
    check_eq(br.wait(), 0, "broker exit status")
    br.check_exit(0)


@case
def fds_sent_by_the_client_are_closed_by_the_broker():
    br = data_broker()
    hello_works(br.sock)
    before = br.steady_fd_count()
    rd, wr = os.pipe()
    socket.send_fds(br.sock, [open_msg(path("data", "hello"))], [wr, wr, wr])
    os.close(wr)
    check_result(ohtest.recv_reply(br.sock), 0, CMD_OPEN)
    # Once the broker closed every copy of the write end, the pipe is at EOF.
    ready, _, _ = select.select([rd], [], [], 5)
    check(ready, "the broker still holds the pipe's write end")
    check_eq(os.read(rd, 1), b"", "pipe at EOF")
    os.close(rd)
    for _ in range(50):
        socket.send_fds(br.sock, [open_msg(path("secret"))], [0, 1, 2])
        check_result(ohtest.recv_reply(br.sock), -ohtest.errno.EACCES, CMD_OPEN)
    check_eq(ohtest.settle(br.fd_count, before), before, "broker fd count")


@case
def broker_fd_count_is_flat_after_many_requests():
    write(path("data", "hello"), b"hello world\n")
    write(path("secret"), b"x")
    br = Broker(["--allow", "rwc:%s/" % path("data")], mode="listen", quiet=True)
    hello_works(br.connect())
    before = br.steady_fd_count()
    for i in range(20):
        s = br.connect()
        for _ in range(10):
            open_(s, path("data", "hello")).close()
            open_(s, path("secret"), want=-ohtest.errno.EACCES)
            open_(s, path("data", "missing"), want=-ohtest.errno.ENOENT)
            open_(s, path("data", "new%d" % i), os.O_CREAT | os.O_WRONLY, 0o600).close()
            check_result(request(s, open_msg(b"rel")), -ohtest.errno.EINVAL, CMD_OPEN)
        s.sendall(struct.pack("=II", 3, 1))
        expect_closed(s)
        s.close()
    check_eq(ohtest.settle(br.fd_count, before), before, "broker fd count after 1000 requests")


CMD_OPEN_DIR_AHEAD = 15


def open_dir_ahead_msg(p, flags, file_flags, max_files=64):
    return ohtest.message(CMD_OPEN_DIR_AHEAD, struct.pack("=III", flags, max_files, file_flags) + ohtest.pstr(p))


@case
def open_dir_ahead_to_a_broker_without_ahead_is_an_open_of_the_directory():
    br = data_broker()
    dflags = os.O_RDONLY | os.O_DIRECTORY
    r = request(br.sock, open_dir_ahead_msg(path("data"), dflags, os.O_RDONLY))
    check_eq((r.size, r.command, r.result, len(r.fds)), (12, CMD_OPEN_DIR_AHEAD, 0, 1), "a plain reply")
    check_eq(os.listdir(r.fds[0]), ["hello"], "the directory, at its start")
    r = request(br.sock, open_dir_ahead_msg(path(""), dflags, os.O_RDONLY))
    check_eq((r.size, r.command, r.result, len(r.fds)), (12, CMD_OPEN_DIR_AHEAD, -ohtest.errno.EACCES, 0),
             "a directory outside the policy")
    hello_works(br.sock)


if __name__ == "__main__":
    sys.exit(ohtest.main())

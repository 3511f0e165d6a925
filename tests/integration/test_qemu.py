#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real QEMU, the seed's own client, under `openhook run` in both modes
(issue 9, item 6): it starts with only its qcow2 chain granted (base r,
top rw) although it probes optional files outside the policy; with a
snapshot directory rwc it takes a live snapshot over QMP
(blockdev-snapshot-sync), writes through the new top (qemu-io by
human-monitor-command) and quits.  Judged on disk afterwards: qemu-img
checks the chain, the bytes read back through it, and the base's bytes
are unchanged."""

import hashlib
import json
import os
import shutil
import subprocess

import ohtest
from ohtest import check, check_eq, path, read

MODES = ("preload", "seccomp")
scenario = ohtest.scenario_per_mode(MODES)
QEMU = "qemu-system-x86_64"


def need_qemu():
    for program in (QEMU, "qemu-img", "qemu-io"):
        if not shutil.which(program):
            raise ohtest.Skip("%s is not installed (scripts/install-deps)" % program)


def qemu_img(*args):
    return subprocess.run(["qemu-img"] + list(args), capture_output=True, text=True, check=True).stdout


def qemu_io(image, *commands):
    argv = ["qemu-io"]
    for c in commands:
        argv += ["-c", c]
    p = subprocess.run(argv + [image], capture_output=True, text=True)
    check("Pattern verification failed" not in p.stdout and p.returncode == 0,
          "qemu-io %r on %s:\n%s%s" % (commands, image, p.stdout, p.stderr))


def chain():
    """base.qcow2 (0x11 everywhere) <- top.qcow2 (0x22 at 64k)."""
    qemu_img("create", "-q", "-f", "qcow2", path("base.qcow2"), "1M")
    qemu_io(path("base.qcow2"), "write -P 0x11 0 1M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", path("top.qcow2"))
    qemu_io(path("top.qcow2"), "write -P 0x22 64k 64k")
    os.makedirs(path("snap"))
    return hashlib.sha256(read(path("base.qcow2"))).hexdigest()


def qemu(mode, drive, qmp, allow):
    """QEMU with no machine, its disk DRIVE and QMP on stdin; returns
    (status, QMP replies, stderr)."""
    lines = "".join(json.dumps(c) + "\n" for c in [{"execute": "qmp_capabilities"}] + qmp)
    status, out, err = ohtest.run_confined(
        mode, [QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio",
               "-drive", "if=none,id=disk0,file=" + drive], allow, cwd=path(), stdin=lines,
        extra=ohtest.no_private_tmp())
    replies = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return status, [r for r in replies if "return" in r or "error" in r], err


def chain_allow():
    return [("r", path("base.qcow2")), ("rw", path("top.qcow2"))]


@scenario
def qemu_starts_with_only_its_chain_granted(mode):
    need_qemu()
    chain()
    # As a user types it: the image by a relative name.
    status, replies, err = qemu(mode, "top.qcow2", [{"execute": "quit"}], chain_allow())
    check_eq(status, 0, "QEMU's exit status (stderr: %s)" % err)
    check_eq(replies, [{"return": {}}, {"return": {}}], "QMP replies")
    # Its probes of optional files that do not exist are no denials.
    for probe in ("/etc/qemu/", "/etc/libnl/", "/dev/sgx_vepc"):
        check(probe not in err, "a denial line for %s:\n%s" % (probe, err))


@scenario
def qemu_takes_a_live_snapshot_and_writes_through_the_new_top(mode):
    need_qemu()
    base_sum = chain()
    new = path("snap", "new.qcow2")
    qmp = [
        {"execute": "blockdev-snapshot-sync",
         "arguments": {"device": "disk0", "snapshot-file": new, "format": "qcow2"}},
        {"execute": "human-monitor-command",
         "arguments": {"command-line": 'qemu-io disk0 "write -P 0x33 128k 64k"'}},
        {"execute": "quit"},
    ]
    # The top by its absolute name, so that the snapshot names its backing
    # file so and qemu-img can follow the chain afterwards.
    status, replies, err = qemu(mode, path("top.qcow2"), qmp, chain_allow() + [("rwc", path("snap") + "/")])
    check_eq(status, 0, "QEMU's exit status (stderr: %s)" % err)
    check(all("return" in r for r in replies), "a QMP error: %r\n%s" % (replies, err))
    check_eq(len(replies), 4, "QMP replies")
    info = json.loads(qemu_img("info", "--output=json", "--backing-chain", new))
    check_eq([i["filename"] for i in info], [new, path("top.qcow2"), path("base.qcow2")], "the chain on disk")
    qemu_img("check", "-q", new)
    qemu_io(new, "read -P 0x33 128k 64k", "read -P 0x22 64k 64k", "read -P 0x11 0 64k", "read -P 0x11 192k 64k")
    qemu_io(path("top.qcow2"), "read -P 0x11 128k 64k")
    check_eq(hashlib.sha256(read(path("base.qcow2"))).hexdigest(), base_sum, "the base's bytes")


ohtest.main()

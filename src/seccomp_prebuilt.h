/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp programs of openhook run, built when openhook is.
 *
 * Building a program with libseccomp costs milliseconds of CPU, and run
 * built two at every start (the command's, the broker's), one of them on
 * the way to the command's execve.  Their inputs are fixed once openhook
 * is built: the command's program depends only on its flags
 * (OH_SECCOMP_*), the broker's on its flags and its pid, which only the
 * tgkill rule compares with.  So seccomp-gen (seccomp_gen.c), run by the
 * build, writes every one of them out (seccomp_tables.c) exactly as
 * oh_seccomp_build() and oh_broker_filter_build() make them, and the
 * broker's with the instructions that hold the pid; test-seccomp checks
 * that each is, instruction for instruction, what libseccomp builds now.
 * Where a program could not be made at build time (a cross build, a
 * kernel that lacked what libseccomp checks for), it is built at run time
 * as before. */
#ifndef OH_SECCOMP_PREBUILT_H
#define OH_SECCOMP_PREBUILT_H

#include <linux/filter.h>
#include <sys/types.h>

#include "seccomp_notify.h"

struct oh_bpf_program {
        const struct sock_filter *insns;
        unsigned short len;             /* 0: not prebuilt */
        const unsigned short *pid_at;   /* the broker's: the instructions that compare with its pid */
        unsigned short n_pid;
        /* The broker's: pids for which libseccomp builds another program,
         * built at run time.  libseccomp shares identical blocks, so a pid
         * equal to a constant another rule compares with in the same way
         * (1: socketpair's AF_UNIX) shares that rule's block. */
        const unsigned int *runtime_pids;
        unsigned short n_runtime_pids;
};

/* Indexed by the command's flags, and by whether the broker is a seccomp
 * supervisor (OH_CONFINE_SECCOMP_SUPERVISOR). */
extern const struct oh_bpf_program oh_prebuilt_command[OH_SECCOMP_ALL_FLAGS + 1];
extern const struct oh_bpf_program oh_prebuilt_broker[2];

/* The command's program for FLAGS into *RET, prebuilt or else built by
 * oh_seccomp_build().  oh_seccomp_filter_done() frees it.  0 or -errno. */
int oh_seccomp_filter_for(unsigned int flags, struct oh_seccomp_filter *ret);

/* The broker's program for FLAGS (OH_CONFINE_*) and PID, the same way
 * (oh_broker_filter_build()). */
int oh_broker_filter_for(unsigned int flags, pid_t pid, struct oh_seccomp_filter *ret);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking the programs prebuilt (seccomp_prebuilt.h).  A copy: the
 * caller owns what oh_seccomp_build() would have given it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confine.h"
#include "seccomp_broker.h"
#include "seccomp_prebuilt.h"

static int copy_program(const struct oh_bpf_program *p, struct oh_seccomp_filter *ret)
{
        struct sock_filter *insns = malloc(p->len * sizeof *insns);

        if (!insns)
                return -ENOMEM;
        memcpy(insns, p->insns, p->len * sizeof *insns);
        ret->insns = insns;
        ret->len = p->len;
        return 0;
}

int oh_seccomp_filter_for(unsigned int flags, struct oh_seccomp_filter *ret)
{
        if (flags > OH_SECCOMP_ALL_FLAGS || oh_prebuilt_command[flags].len == 0)
                return oh_seccomp_build(flags, ret);
        *ret = (struct oh_seccomp_filter) { .flags = flags };
        return copy_program(&oh_prebuilt_command[flags], ret);
}

static bool built_at_run_time(const struct oh_bpf_program *p, pid_t pid)
{
        for (size_t i = 0; i < p->n_runtime_pids; i++)
                if (p->runtime_pids[i] == (unsigned int)pid)
                        return true;
        return p->len == 0;
}

int oh_broker_filter_for(unsigned int flags, pid_t pid, struct oh_seccomp_filter *ret)
{
        const struct oh_bpf_program *p = &oh_prebuilt_broker[!!(flags & OH_CONFINE_SECCOMP_SUPERVISOR)];
        int r;

        if (built_at_run_time(p, pid))
                return oh_broker_filter_build(flags, pid, ret);
        *ret = (struct oh_seccomp_filter) {};
        r = copy_program(p, ret);
        for (size_t i = 0; r >= 0 && i < p->n_pid; i++)
                ret->insns[p->pid_at[i]].k = (uint32_t)pid;
        return r;
}

/* A build that cannot run what it builds (cross) has no generator: every
 * program is then built at run time. */
#ifdef OH_NO_PREBUILT
const struct oh_bpf_program oh_prebuilt_command[OH_SECCOMP_ALL_FLAGS + 1];
const struct oh_bpf_program oh_prebuilt_broker[2];
#endif

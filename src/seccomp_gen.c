/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-gen: writes seccomp_tables.c, openhook run's seccomp programs
 * as libseccomp builds them (seccomp_prebuilt.h), to stdout.
 *
 * The broker's program is built for two pids: the instructions in which
 * the two differ are where the pid goes, and each must be a comparison
 * with that pid and nothing else (the same code and jumps), or the
 * program is left to be built at run time.  A program libseccomp cannot
 * build here is left so too (a warning says which). */
#include <errno.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "confine.h"
#include "seccomp_broker.h"
#include "seccomp_notify.h"
#include "util.h"

/* Two pids below every pid_max (2^22) whose bits all differ. */
#define PID_A 0x155555u
#define PID_B 0x2aaaaau

static void print_insns(const char *name, const struct oh_seccomp_filter *f)
{
        printf("static const struct sock_filter %s[] = {\n", name);
        for (size_t i = 0; i < f->len; i++)
                printf("        { 0x%04x, %u, %u, 0x%08x },\n", f->insns[i].code, f->insns[i].jt,
                       f->insns[i].jf, f->insns[i].k);
        printf("};\n\n");
}

static bool same(const struct oh_seccomp_filter *a, const struct oh_seccomp_filter *b)
{
        return a->len == b->len && memcmp(a->insns, b->insns, a->len * sizeof *a->insns) == 0;
}

/* The command's programs: one array for each distinct program. */
static void print_command(void)
{
        struct oh_seccomp_filter f[OH_SECCOMP_ALL_FLAGS + 1];
        int as[OH_SECCOMP_ALL_FLAGS + 1];
        char name[32];

        for (unsigned int flags = 0; flags <= OH_SECCOMP_ALL_FLAGS; flags++) {
                int r = oh_seccomp_build(flags, &f[flags]);

                as[flags] = -1;
                if (r < 0) {
                        fprintf(stderr, "seccomp-gen: the command's program for flags %#x is left to run time: %s\n",
                                flags, strerror(-r));
                        continue;
                }
                for (unsigned int k = 0; k < flags && as[flags] < 0; k++)
                        if (as[k] == (int)k && same(&f[k], &f[flags]))
                                as[flags] = (int)k;
                if (as[flags] >= 0)
                        continue;
                as[flags] = (int)flags;
                snprintf(name, sizeof name, "command_%u", flags);
                print_insns(name, &f[flags]);
        }
        printf("const struct oh_bpf_program oh_prebuilt_command[OH_SECCOMP_ALL_FLAGS + 1] = {\n");
        for (unsigned int flags = 0; flags <= OH_SECCOMP_ALL_FLAGS; flags++) {
                if (as[flags] >= 0)
                        printf("        [%u] = { command_%d, %u, NULL, 0, NULL, 0 },\n", flags, as[flags],
                               f[flags].len);
                oh_seccomp_filter_done(&f[flags]);
        }
        printf("};\n\n");
}

/* Where A (built for PID_A) and B (for PID_B) differ, into AT; their
 * number, or -1 if they differ in anything but comparisons with the pid. */
static int pid_slots(const struct oh_seccomp_filter *a, const struct oh_seccomp_filter *b, unsigned short *at)
{
        int n = 0;

        if (a->len != b->len)
                return -1;
        for (unsigned short i = 0; i < a->len; i++) {
                const struct sock_filter *x = &a->insns[i], *y = &b->insns[i];

                if (memcmp(x, y, sizeof *x) == 0)
                        continue;
                if (x->code != y->code || x->jt != y->jt || x->jf != y->jf || x->k != PID_A || y->k != PID_B ||
                    x->code != (BPF_JMP | BPF_JEQ | BPF_K))
                        return -1;
                at[n++] = i;
        }
        return n;
}

#define PID_MAX_LIMIT (4 * 1024 * 1024)

/* Whether A, with PID written at AT, is what libseccomp builds for PID. */
static bool patches_to(const struct oh_seccomp_filter *a, const unsigned short *at, int n, unsigned int flags,
                       pid_t pid)
{
        struct oh_seccomp_filter built, patched = *a;
        struct sock_filter insns[BPF_MAXINSNS];
        bool ok;

        memcpy(insns, a->insns, a->len * sizeof *insns);
        patched.insns = insns;
        for (int i = 0; i < n; i++)
                insns[at[i]].k = (uint32_t)pid;
        ok = oh_broker_filter_build(flags, pid, &built) >= 0 && same(&built, &patched);
        oh_seccomp_filter_done(&built);
        return ok;
}

/* The pids for which A, patched, is not what libseccomp builds: only a
 * pid that some other comparison in A already holds can make libseccomp
 * share a block (seccomp_prebuilt.h), so those are tried, each once. */
static void print_runtime_pids(int n_broker, const struct oh_seccomp_filter *a, const unsigned short *at, int n,
                               unsigned int flags, int *n_runtime)
{
        *n_runtime = 0;
        printf("static const unsigned int broker_%d_runtime[] = {", n_broker);
        for (unsigned short i = 0; i < a->len; i++) {
                uint32_t k = a->insns[i].k;
                bool tried = false;

                if (a->insns[i].code != (BPF_JMP | BPF_JEQ | BPF_K) || k == 0 || k >= PID_MAX_LIMIT)
                        continue;
                for (unsigned short j = 0; j < i && !tried; j++)
                        tried = a->insns[j].code == a->insns[i].code && a->insns[j].k == k;
                if (tried || patches_to(a, at, n, flags, (pid_t)k))
                        continue;
                printf(" %u,", k);
                ++*n_runtime;
        }
        printf(" 0 };\n\n");
}

/* The broker's program for FLAGS as broker_N, with broker_N_pid and
 * broker_N_runtime; false if it is left to run time. */
static bool print_broker(unsigned int flags, int n, char *row, size_t size)
{
        struct oh_seccomp_filter a, b;
        unsigned short at[BPF_MAXINSNS];
        char name[32];
        int r = oh_broker_filter_build(flags, PID_A, &a), n_pid, n_runtime;

        if (r >= 0)
                r = oh_broker_filter_build(flags, PID_B, &b);
        n_pid = r < 0 ? r : pid_slots(&a, &b, at);
        if (n_pid > 0) {
                snprintf(name, sizeof name, "broker_%d", n);
                print_insns(name, &a);
                printf("static const unsigned short broker_%d_pid[] = {", n);
                for (int i = 0; i < n_pid; i++)
                        printf(" %u,", at[i]);
                printf(" };\n\n");
                print_runtime_pids(n, &a, at, n_pid, flags, &n_runtime);
                snprintf(row, size, "        [%d] = { broker_%d, %u, broker_%d_pid, %d, broker_%d_runtime, %d },\n",
                         n, n, a.len, n, n_pid, n, n_runtime);
        } else
                fprintf(stderr, "seccomp-gen: the broker's program for flags %#x is left to run time: %s\n",
                        flags, r < 0 ? strerror(-r) : "the pid is not where it was expected");
        oh_seccomp_filter_done(&a);
        oh_seccomp_filter_done(&b);
        return n_pid > 0;
}

static void print_brokers(void)
{
        char rows[2][256];
        bool made[2];

        for (int i = 0; i < 2; i++)
                made[i] = print_broker(i ? OH_CONFINE_SECCOMP_SUPERVISOR : 0, i, rows[i], sizeof rows[i]);
        printf("const struct oh_bpf_program oh_prebuilt_broker[2] = {\n");
        for (int i = 0; i < 2; i++)
                if (made[i])
                        printf("%s", rows[i]);
        printf("};\n");
}

int main(void)
{
        printf("/* Written by seccomp-gen (src/seccomp_gen.c) when openhook was built:\n"
               " * see src/seccomp_prebuilt.h. */\n"
               "#include <stddef.h>\n\n"
               "#include \"seccomp_prebuilt.h\"\n\n");
        print_command();
        print_brokers();
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

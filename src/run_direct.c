/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The direct set: what a confined command opens itself, not through the
 * broker.  Everything else Landlock denies to it.  openhook(1) explains
 * every default entry; keep the two lists in step. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "util.h"

#define RX (OH_LL_READ | OH_LL_EXEC)

static const struct oh_ll_rule default_direct[] = {
        /* Programs, the dynamic loader, shared libraries, and the data
         * everything reads under /usr (locales, zoneinfo, python's
         * library).  Read and execute, never write. */
        { "/usr", RX },
        { "/bin", RX },
        { "/sbin", RX },
        { "/lib", RX },
        { "/lib64", RX },
        { "/lib32", RX },
        { "/etc/ld.so.cache", OH_LL_READ },
        { "/etc/ld.so.preload", OH_LL_READ },
        /* glibc opens these itself (NSS, the resolver), out of the shim's
         * reach: user and group names (ls -l, id, whoami) and host names.
         * They hold nothing secret; /etc/shadow is not among them. */
        { "/etc/nsswitch.conf", OH_LL_READ },
        { "/etc/passwd", OH_LL_READ },
        { "/etc/group", OH_LL_READ },
        { "/etc/hosts", OH_LL_READ },
        { "/etc/host.conf", OH_LL_READ },
        { "/etc/resolv.conf", OH_LL_READ },
        { "/etc/gai.conf", OH_LL_READ },
        /* localtime(3); on most systems a symlink into /usr/share/zoneinfo. */
        { "/etc/localtime", OH_LL_READ },
        /* The program's own state: /proc/self/maps, /proc/self/fd, ...
         * (a rule for /proc/self would not follow its children).
         * Trade-off: it can read what /proc shows its user about other
         * processes, environ included; files reached through
         * /proc/PID/{root,cwd,fd} links are still checked by Landlock. */
        { "/proc", OH_LL_READ },
        /* sysconf(_SC_NPROCESSORS_ONLN) and friends. */
        { "/sys/devices/system/cpu", OH_LL_READ },
        /* The NUMA topology (node count, each node's CPUs and memory):
         * glib and QEMU read it at start-up.  Hardware layout, no secrets. */
        { "/sys/devices/system/node", OH_LL_READ },
        /* The standard devices. */
        { "/dev/null", OH_LL_READ | OH_LL_WRITE },
        { "/dev/zero", OH_LL_READ | OH_LL_WRITE },
        { "/dev/full", OH_LL_READ | OH_LL_WRITE },
        { "/dev/random", OH_LL_READ },
        { "/dev/urandom", OH_LL_READ },
        { "/dev/tty", OH_LL_READ | OH_LL_WRITE | OH_LL_DEV },
};

int run_direct_add_defaults(struct run_direct *d)
{
        for (size_t i = 0; i < ELEMENTSOF(default_direct); i++) {
                int r = run_direct_add(d, default_direct[i].path, default_direct[i].access);
                if (r < 0)
                        return r;
        }
        return 0;
}

int run_direct_add(struct run_direct *d, const char *path, unsigned int access)
{
        if (path[0] != '/' || strchr(path, ':'))
                return -EINVAL;

        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
                len--;
        _cleanup_free_ char *copy = strndup(path, len);
        if (!copy)
                return -ENOMEM;

        char **paths = realloc(d->paths, (d->n + 2) * sizeof(*paths));
        if (!paths)
                return -ENOMEM;
        d->paths = paths;
        struct oh_ll_rule *rules = realloc(d->rules, (d->n + 1) * sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        d->rules = rules;

        rules[d->n] = (struct oh_ll_rule) { .path = copy, .access = access };
        paths[d->n++] = TAKE_PTR(copy);
        paths[d->n] = NULL;
        return 0;
}

char *run_direct_env(const struct run_direct *d)
{
        size_t size = 1;

        for (size_t i = 0; i < d->n; i++)
                size += strlen(d->paths[i]) + 1;
        char *env = malloc(size);
        if (!env)
                return NULL;

        char *p = env;
        *p = '\0';
        for (size_t i = 0; i < d->n; i++)
                p = stpcpy(stpcpy(p, i ? ":" : ""), d->paths[i]);
        return env;
}

void run_direct_done(struct run_direct *d)
{
        for (size_t i = 0; i < d->n; i++)
                free(d->paths[i]);
        free(d->paths);
        free(d->rules);
        *d = (struct run_direct) {};
}

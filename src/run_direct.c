/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The direct set: what a confined command opens itself, not through the
 * broker.  Everything else Landlock denies to it.  openhook(1) explains
 * every default entry; keep the two lists in step. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "policy.h"
#include "resolve.h"
#include "run.h"
#include "util.h"

#define RX (OH_LL_READ | OH_LL_EXEC)
/* What each entry is everywhere (landlock.h), so that neither run's
 * ruleset for the command nor the broker's floor asks the kernel (an
 * fstat() each).  A directory that turned out a file is asked again; a
 * file that were a directory would get a file's rights there, less than
 * the rule says, never more. */
#define ISDIR OH_LL_IS_DIR
#define ISFILE OH_LL_IS_FILE

static const struct oh_ll_rule default_direct[] = {
        /* Programs, the dynamic loader, shared libraries, and the data
         * everything reads under /usr (locales, zoneinfo, python's
         * library).  Read and execute, never write. */
        { "/usr", RX | ISDIR },
        { "/bin", RX | ISDIR },
        { "/sbin", RX | ISDIR },
        { "/lib", RX | ISDIR },
        { "/lib64", RX | ISDIR },
        { "/lib32", RX | ISDIR },
        { "/etc/ld.so.cache", OH_LL_READ | ISFILE },
        { "/etc/ld.so.preload", OH_LL_READ | ISFILE },
        /* glibc opens these itself (NSS, the resolver), out of the shim's
         * reach: user and group names (ls -l, id, whoami) and host names.
         * They hold nothing secret; /etc/shadow is not among them. */
        { "/etc/nsswitch.conf", OH_LL_READ | ISFILE },
        { "/etc/passwd", OH_LL_READ | ISFILE },
        { "/etc/group", OH_LL_READ | ISFILE },
        { "/etc/hosts", OH_LL_READ | ISFILE },
        { "/etc/host.conf", OH_LL_READ | ISFILE },
        { "/etc/resolv.conf", OH_LL_READ | ISFILE },
        { "/etc/gai.conf", OH_LL_READ | ISFILE },
        /* localtime(3); on most systems a symlink into /usr/share/zoneinfo. */
        { "/etc/localtime", OH_LL_READ | ISFILE },
        /* The program's own state: /proc/self/maps, /proc/self/fd, ...
         * (a rule for /proc/self would not follow its children).
         * Trade-off: it can read what /proc shows its user about other
         * processes, environ included; files reached through
         * /proc/PID/{root,cwd,fd} links are still checked by Landlock. */
        { "/proc", OH_LL_READ | ISDIR },
        /* sysconf(_SC_NPROCESSORS_ONLN) and friends. */
        { "/sys/devices/system/cpu", OH_LL_READ | ISDIR },
        /* The NUMA topology (node count, each node's CPUs and memory):
         * glib and QEMU read it at start-up.  Hardware layout, no secrets. */
        { "/sys/devices/system/node", OH_LL_READ | ISDIR },
        /* The standard devices. */
        { "/dev/null", OH_LL_READ | OH_LL_WRITE | ISFILE },
        { "/dev/zero", OH_LL_READ | OH_LL_WRITE | ISFILE },
        { "/dev/full", OH_LL_READ | OH_LL_WRITE | ISFILE },
        { "/dev/random", OH_LL_READ | ISFILE },
        { "/dev/urandom", OH_LL_READ | ISFILE },
        { "/dev/tty", OH_LL_READ | OH_LL_WRITE | OH_LL_DEV | ISFILE },
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

/* The shim and the supervisor read at most this many OPENHOOK_DIRECT
 * entries, and the shim at most this many bytes of it (preload/direct.c);
 * an entry past either would silently stay brokered there. */
#define DIRECT_ENTRIES_MAX 64
#define DIRECT_ENV_MAX 8191

static bool direct_has_room(const struct run_direct *d, const char *path)
{
        size_t size = strlen(path) + 1;

        if (d->n >= DIRECT_ENTRIES_MAX)
                return false;
        for (size_t i = 0; i < d->n; i++)
                size += strlen(d->paths[i]) + 1;
        return size <= DIRECT_ENV_MAX;
}

/* Whether rule Q takes the decision for some path R covers away from R:
 * a deny or an exact rule of R's own path, or any rule beneath it.
 * Allows of R's own path and kind merge with R and change nothing. */
static bool rule_overridden_by(const struct oh_rule *r, const struct oh_rule *q)
{
        if (q->len == r->len && memcmp(q->path, r->path, r->len) == 0) {
                if (q->subtree != r->subtree)
                        return r->subtree && !q->subtree;
                return q->deny;
        }
        if (!r->subtree)
                return false;
        return q->len > r->len && strncmp(q->path, r->path, r->len) == 0 &&
                (r->len == 1 || q->path[r->len] == '/');
}

/* An exact rule decides its path only, so Landlock may be given a file
 * (a rule on a directory would grant its whole tree); a subtree rule is
 * given as it stands.  Rule paths are canonical: a symlink there now is
 * not what the rule was written for. */
static bool rule_fits_landlock(const struct oh_rule *r)
{
        struct stat st;

        if (lstat(r->path, &st) < 0 || S_ISLNK(st.st_mode))
                return false;
        return r->subtree || !S_ISDIR(st.st_mode);
}

static bool same_allow(const struct oh_rule *a, const struct oh_rule *b)
{
        return !a->deny && !b->deny && a->subtree == b->subtree && strcmp(a->path, b->path) == 0;
}

/* Rule I is judged with the allows it merges with; the first of them
 * stands for all, so a path is added once. */
static bool rule_reads_directly(const struct oh_rule *rules, size_t n, size_t i)
{
        const struct oh_rule *r = &rules[i];
        unsigned perms = 0;

        if (r->deny)
                return false;
        for (size_t j = 0; j < n; j++) {
                if (same_allow(r, &rules[j])) {
                        if (j < i)
                                return false;
                        perms |= rules[j].perms;
                } else if (rule_overridden_by(r, &rules[j]))
                        return false;
        }
        return (perms & OPENHOOK_PERM_R) && rule_fits_landlock(r);
}

int run_direct_add_policy_reads(struct run_direct *d, const struct openhook_policy *p)
{
        size_t n, left_out = 0;
        const struct oh_rule *rules = oh_policy_rules(p, &n);

        for (size_t i = 0; i < n; i++) {
                if (!rule_reads_directly(rules, n, i))
                        continue;
                if (!direct_has_room(d, rules[i].path) || strchr(rules[i].path, ':')) {
                        left_out++;
                        continue;
                }
                int r = run_direct_add(d, rules[i].path, OH_LL_READ);
                if (r < 0)
                        return r;
        }
        return (int)left_out;
}

int run_direct_add_to_policy(const struct run_direct *d, struct openhook_policy *p)
{
        for (size_t i = 0; i < d->n; i++) {
                const struct oh_ll_rule *rule = &d->rules[i];
                char perms[3] = "", *letter = perms;
                _cleanup_free_ char *error = NULL, *path = NULL;
                struct stat st;

                if (stat(rule->path, &st) < 0)
                        continue;       /* as Landlock: a missing entry grants nothing */
                if (rule->access & OH_LL_READ)
                        *letter++ = 'r';
                if (rule->access & OH_LL_WRITE)
                        *letter++ = 'w';
                if (letter == perms)
                        continue;
                if (asprintf(&path, "%s%s", rule->path,
                             S_ISDIR(st.st_mode) && strcmp(rule->path, "/") != 0 ? "/" : "") < 0)
                        return -ENOMEM;
                int r = openhook_policy_allow(p, perms, path, &error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- x: what the command may execute ------------------------------------ */

/* Makes the missing directories of PATH from the top, each as the
 * command could ask the broker to (c there), so that nothing is made
 * that the policy would not let it make. */
static int make_tree(const struct openhook_policy *p, const char *path)
{
        char partial[PATH_MAX];
        struct stat st;
        size_t len = strlen(path);

        if (len >= sizeof(partial))
                return -ENAMETOOLONG;
        for (size_t i = 1; i <= len; i++) {
                if (path[i] != '/' && path[i] != '\0')
                        continue;
                memcpy(partial, path, i);
                partial[i] = '\0';
                if (stat(partial, &st) == 0)
                        continue;
                struct oh_verdict v;
                int r = oh_do_mkdir(p, partial, 0777, &v);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        return 0;
}

/* Landlock cannot subtract: a deny rule inside an x tree holds for what
 * the broker does, not for what the kernel reads and executes there. */
static void warn_denied_inside(const struct oh_rule *rules, size_t n, const struct oh_rule *x)
{
        for (size_t i = 0; i < n; i++)
                if (rules[i].deny && rules[i].len > x->len && strncmp(rules[i].path, x->path, x->len) == 0 &&
                    (x->len == 1 || rules[i].path[x->len] == '/'))
                        oh_warn("'deny %s' lies inside the x tree %s/, which COMMAND may read and execute "
                                "itself: the deny holds for the broker only", rules[i].written, x->path);
}

/* Whether x rule R can be given to Landlock as it is meant: a tree that
 * exists (made now if need be), or an existing file.  Anything broader
 * (a missing file's directory, a directory named as one file) would let
 * the command execute more than the rule says. */
static bool executable_fits(const struct openhook_policy *p, const struct oh_rule *r)
{
        struct stat st;
        int k;

        if (r->subtree) {
                k = make_tree(p, r->path);
                if (k < 0)
                        oh_warn("x:%s/ does not exist and cannot be made (%s): nothing there may be executed",
                                r->path, strerror(-k));
                return k == 0;
        }
        if (lstat(r->path, &st) < 0) {
                oh_warn("x:%s does not exist yet: Landlock can only let COMMAND execute what exists when "
                        "it starts; write x:DIR/ for the directory it is made in", r->path);
                return false;
        }
        if (S_ISDIR(st.st_mode)) {
                oh_warn("x:%s names a directory as one file: write x:%s/ for the programs in it", r->path, r->path);
                return false;
        }
        return true;
}

int run_direct_add_executable(struct run_direct *d, const struct openhook_policy *p)
{
        size_t n;
        const struct oh_rule *rules = oh_policy_rules(p, &n);

        for (size_t i = 0; i < n; i++) {
                if (rules[i].deny || !(rules[i].perms & OPENHOOK_PERM_X))
                        continue;
                if (!executable_fits(p, &rules[i]))
                        continue;
                if (!direct_has_room(d, rules[i].path) || strchr(rules[i].path, ':')) {
                        oh_warn("x:%s: OPENHOOK_DIRECT is full (or the path has a ':'): nothing there may be "
                                "executed", rules[i].path);
                        continue;
                }
                if (rules[i].subtree)
                        warn_denied_inside(rules, n, &rules[i]);
                int r = run_direct_add(d, rules[i].path, OH_LL_READ | OH_LL_EXEC);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- t: private temporaries ---------------------------------------------- */

/* Where programs make temporary files: TMPDIR's default, the one that
 * survives reboots, and POSIX shared memory and semaphores (glibc's
 * shm_open, sem_open; Python's multiprocessing). */
static const char *const private_tmp[] = { "/tmp/", "/var/tmp/", "/dev/shm/" };

int run_add_private_tmp(struct openhook_policy *p)
{
        for (size_t i = 0; i < ELEMENTSOF(private_tmp); i++) {
                _cleanup_free_ char *error = NULL;
                struct stat st;

                /* A missing one would lend its rights to its parent in the
                 * broker's Landlock floor (/dev): left out. */
                if (stat(private_tmp[i], &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                int r = openhook_policy_allow(p, "t", private_tmp[i], &error);
                if (r < 0)
                        return r;
        }
        return 0;
}

void run_direct_done(struct run_direct *d)
{
        for (size_t i = 0; i < d->n; i++)
                free(d->paths[i]);
        free(d->paths);
        free(d->rules);
        *d = (struct run_direct) {};
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own walls, raised once its policy, socket and log are set
 * up: Landlock, no_new_privs, capabilities, seccomp (in that order: each
 * step needs syscalls or privileges the next one takes away).
 *
 * The policy engine is the inner wall; these are the outer one.  They are
 * coarser than the policy by design (Landlock has no deny rules and names
 * inodes, not paths), so they never decide alone: they only make sure that
 * a bug in the broker's own checks cannot reach beyond the union of what
 * the policy could ever grant. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ceiling.h"
#include "confine.h"
#include "landlock.h"
#include "ll_set.h"
#include "policy.h"
#include "seccomp_prebuilt.h"
#include "util.h"

/* ---- Landlock ----------------------------------------------------------- */

static unsigned int ll_access_of(unsigned int perms)
{
        unsigned int a = 0;

        if (perms & OPENHOOK_PERM_R)
                a |= OH_LL_READ;
        if (perms & OPENHOOK_PERM_W)
                a |= OH_LL_WRITE;
        /* A file the broker creates under c alone is then opened with
         * whatever access the client asked for (O_CREAT|O_EXCL: it is new,
         * so nothing is clobbered).  Landlock gives a new file the rights
         * of its directory, so c needs read and write there too: broader,
         * but the policy engine only lets them reach a file it just made. */
        if (perms & OPENHOOK_PERM_C)
                a |= OH_LL_CREATE | OH_LL_READ | OH_LL_WRITE;
        if (perms & OPENHOOK_PERM_D)
                a |= OH_LL_DELETE;
        /* The kernel executes an x file for the program (the command's
         * own layer grants it too, run_direct.c): a nested domain can
         * only narrow this one. */
        if (perms & OPENHOOK_PERM_X)
                a |= OH_LL_EXEC | OH_LL_READ;
        /* t: the broker makes, opens and removes the sandbox's own
         * objects there; which ones is the policy engine's business
         * (lib/created.h).  The command's layer gets nothing here, so
         * nothing in a t directory is made but through the broker. */
        if (perms & OPENHOOK_PERM_T)
                a |= OH_LL_CREATE | OH_LL_READ | OH_LL_WRITE | OH_LL_DELETE;
        return a;
}

static unsigned int ll_type_of(const struct stat *st)
{
        return S_ISDIR(st->st_mode) ? OH_LL_IS_DIR : OH_LL_IS_FILE;
}

/* The length of the directory above PATH[0..LEN) ("/" for "/x"). */
static size_t parent_len(const char *path, size_t len)
{
        const char *slash = memrchr(path, '/', len);

        return slash == path ? 1 : (size_t) (slash - path);
}

/* Adds ACCESS on P[0..LEN) (P: PATH_MAX bytes, written to), or, where it
 * does not exist yet (to be made through the broker, or by someone else
 * later), on its nearest existing ancestor: Landlock can only name what
 * exists, and rights on the ancestor reach whatever is made below it.
 * That is broader than the policy (the ancestor's whole subtree): the
 * policy engine still narrows every request to the rule's own path.
 * ACCESS already holds what making the missing directory needs (the
 * rule's c), and without c the broker may not make it anyway. */
static int ll_add_existing(struct oh_ll_set *s, char *p, size_t len, unsigned int access)
{
        struct stat st;

        for (;;) {
                p[len] = '\0';
                if (stat(p, &st) == 0)
                        return oh_ll_set_add(s, p, len, access | ll_type_of(&st));
                if (len == 1 || (errno != ENOENT && errno != ENOTDIR))
                        return oh_ll_set_add(s, p, len, access);
                len = parent_len(p, len);
        }
}

/* A rule that gives its letters to a directory: listed first, so that
 * the files below it are seen to add nothing before they are looked up. */
static bool ll_on_directory(const struct oh_rule *r)
{
        return r->subtree || (r->perms & (OPENHOOK_PERM_C | OPENHOOK_PERM_D));
}

/* Landlock attaches rights to inodes that exist now, while the policy names
 * paths that may come and go.  So:
 *  - a subtree rule gives its letters to the directory (one that does not
 *    exist yet: to its nearest existing ancestor, see above);
 *  - an exact-file rule with only r/w gives them to the file itself (so a
 *    file someone else replaces by a new inode, as editors do when they
 *    save, is out of reach until the broker restarts, unless a directory
 *    above it has the rights);
 *  - an exact-file rule with c or d, or naming a file that does not exist
 *    yet, gives its letters to the PARENT directory (or its nearest
 *    existing ancestor): creating or removing a name is a right on the
 *    directory, and a file the broker creates is a new inode that
 *    inherits only the directory's rights.  This is broader
 *    than the policy (every name in that directory): the policy engine
 *    still narrows it to the one file, Landlock is the second wall.
 * A rule whose letters the directories above it already have, wherever it
 * would land, is not even looked up (ll_set.h).  Deny rules add nothing:
 * Landlock cannot subtract, so the outer wall is the union of the allow
 * rules. */
/* What R's path is as its directory's listing told when the policy was
 * loaded (lib/pathcache.h): OH_LL_IS_DIR, OH_LL_IS_FILE, -ENOENT, or 0
 * when it did not tell (a symlink, or not listed). */
static int ll_listed(const struct oh_rule *r)
{
        switch (r->listed_type) {
        case -ENOENT:
                return -ENOENT;
        case DT_DIR:
                return OH_LL_IS_DIR;
        case DT_LNK:
        case DT_UNKNOWN:
                return 0;
        default:
                return OH_LL_IS_FILE;
        }
}

/* What R's path P is: OH_LL_IS_DIR, OH_LL_IS_FILE, 0 for a symlink that
 * leads to something, or -errno.  Its directory's listing tells most;
 * else lstat. */
static int ll_look(const struct oh_rule *r, const char *p)
{
        struct stat st;
        int type = ll_listed(r);

        if (type != 0)
                return type;
        if (lstat(p, &st) < 0)
                return oh_negerrno();
        if (!S_ISLNK(st.st_mode))
                return (int) ll_type_of(&st);
        return stat(p, &st) < 0 ? oh_negerrno() : 0;
}

/* An exact-file rule with c or d gives its letters to the directory. */
static bool ll_on_parent(const struct oh_rule *r)
{
        return !r->subtree && (r->perms & (OPENHOOK_PERM_C | OPENHOOK_PERM_D));
}

bool oh_landlock_policy_rule_known(const struct oh_rule *r, unsigned int *access)
{
        *access = ll_access_of(r->perms) | OH_LL_IS_FILE;
        return !r->deny && !ll_on_parent(r) && ll_access_of(r->perms) != 0 && ll_listed(r) == OH_LL_IS_FILE;
}

static int ll_add_policy_rule(struct oh_ll_set *s, const struct oh_rule *r)
{
        unsigned int access = ll_access_of(r->perms);
        bool on_parent = ll_on_parent(r);
        char p[PATH_MAX];

        if (access == 0 || (access & ~oh_ll_set_granted(s, r->path, !on_parent)) == 0)
                return 0;
        if (r->len >= sizeof(p))
                return -ENAMETOOLONG;
        memcpy(p, r->path, r->len + 1);
        if (on_parent)
                return ll_add_existing(s, p, parent_len(p, r->len), access);

        int type = ll_look(r, p);
        /* A symlink: Landlock gives the rights to what it leads to, which
         * its path does not name (type unknown: never left out). */
        if (type >= 0 && !(type == 0 && r->subtree))
                return oh_ll_set_add(s, p, r->len, access | (unsigned int) type);
        if (r->subtree && type != -ENOENT)
                return ll_add_existing(s, p, r->len, access);
        return ll_add_existing(s, p, parent_len(p, r->len), access);
}

int oh_landlock_policy_set(const struct openhook_policy *policy, struct oh_ll_set *s)
{
        size_t n;
        const struct oh_rule *rules = oh_policy_rules(policy, &n);

        for (int directories = 1; directories >= 0; directories--)
                for (size_t i = 0; i < n; i++) {
                        if (rules[i].deny || ll_on_directory(&rules[i]) != directories)
                                continue;
                        int k = ll_add_policy_rule(s, &rules[i]);
                        if (k < 0)
                                return k;
                }
        return oh_ll_set_reduce(s);
}

/* What the broker itself needs beyond any policy. */
int oh_landlock_own_set(struct oh_ll_set *s)
{
#if OH_ASAN
        /* LeakSanitizer reads /proc/self/maps and /proc/self/task at exit,
         * and a report is symbolized from the executable. */
        int k = oh_ll_set_add(s, "/proc/self", strlen("/proc/self"), OH_LL_READ);
        if (k < 0)
                return k;
        char exe[4096];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe));
        if (len > 0 && (size_t)len < sizeof(exe))
                return oh_ll_set_add(s, exe, (size_t)len, OH_LL_READ | OH_LL_IS_FILE);
#else
        (void)s;
#endif
        return 0;
}

/* ---- Capabilities --------------------------------------------------------- */

/* The broker acts for its clients with the file access it was started
 * with: a broker run as root may open root's files inside the policy (the
 * QEMU case: disk images owned by root, handed to an unprivileged guest
 * process), so it keeps the capabilities that make up "file access":
 *  - CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: read/write/search regardless of
 *    mode bits;
 *  - CAP_FOWNER: O_NOATIME and unlink/rename in sticky directories (/tmp)
 *    on files it does not own.
 * It never changes ownership (no CAP_CHOWN), never keeps setuid bits (no
 * CAP_FSETID) and does nothing else privileged.  A seccomp supervisor also
 * keeps CAP_SYS_PTRACE, needed to read the memory of a target that is not
 * dumpable.  Each is kept only if the broker had it. */
static uint64_t caps_wanted(unsigned int flags)
{
        uint64_t keep = UINT64_C(1) << CAP_DAC_OVERRIDE | UINT64_C(1) << CAP_DAC_READ_SEARCH |
                        UINT64_C(1) << CAP_FOWNER;

        if (flags & OH_CONFINE_SECCOMP_SUPERVISOR)
                keep |= UINT64_C(1) << CAP_SYS_PTRACE;
        return keep;
}

/* Removing a capability from the bounding set needs CAP_SETPCAP in the
 * effective set, so this runs before capset() drops it.  Without it there
 * is nothing to gain from the bounding set anyway: no_new_privs is set and
 * seccomp forbids execve. */
static int drop_bounding(uint64_t keep, uint64_t effective, uint64_t bounding)
{
        if (!(effective & UINT64_C(1) << CAP_SETPCAP))
                return 0;
        for (unsigned long cap = 0; cap < 64; cap++)
                if ((bounding & ~keep & UINT64_C(1) << cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                        return oh_negerrno();
        return 0;
}

/* BOUNDING: the bounding set as /proc/self/status shows it, read once
 * rather than asked of the kernel capability by capability. */
static int confine_capabilities(unsigned int flags, uint64_t bounding)
{
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return oh_negerrno();
        uint64_t permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
        uint64_t effective = data[0].effective | (uint64_t)data[1].effective << 32;
        uint64_t keep = caps_wanted(flags) & permitted;

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return oh_negerrno();
        int k = drop_bounding(keep, effective, bounding);
        if (k < 0)
                return k;

        for (size_t i = 0; i < ELEMENTSOF(data); i++) {
                data[i].permitted = data[i].effective = (uint32_t)(keep >> (32 * i));
                data[i].inheritable = 0;
        }
        if (syscall(SYS_capset, &header, data) < 0)
                return oh_negerrno();
        return 0;
}

/* ---- seccomp ------------------------------------------------------------ */

/* The allowlist (seccomp_broker.c), prebuilt with our pid written in
 * (seccomp_prebuilt.h).  TSYNC: threads that already exist get the filter
 * too. */
static int confine_seccomp(unsigned int flags)
{
        /* AddressSanitizer's runtime (shadow memory, LeakSanitizer's ptrace
         * of every thread at exit, the report symbolizer) makes syscalls the
         * broker never does; under ASan this layer is left out, the others
         * are still tested. */
        if (OH_ASAN)
                return 0;

        struct oh_seccomp_filter f;
        int k = oh_broker_filter_for(flags, getpid(), &f);

        if (k >= 0) {
                struct sock_fprog prog = { .len = f.len, .filter = f.insns };

                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
                        k = oh_negerrno();
        }
        oh_seccomp_filter_done(&f);
        return k;
}

/* ---- Putting it together ---------------------------------------------- */

/* Landlock and capabilities are per thread: a thread that already runs
 * would keep the broker's old powers, so confinement must come first. */
/* The number after NAME in /proc/self/status's text BUF, in BASE. */
static int status_field(const char *buf, const char *name, int base, unsigned long long *ret)
{
        const char *t = strstr(buf, name);

        if (!t)
                return -EIO;
        *ret = strtoull(t + strlen(name), NULL, base);
        return 0;
}

/* Also the bounding set into *BOUNDING, from the same read. */
static int check_single_threaded(uint64_t *bounding)
{
        _cleanup_close_ int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        unsigned long long threads, caps;
        char buf[8192];
        int k;

        if (fd < 0)
                return oh_negerrno();
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return oh_negerrno();
        buf[n] = '\0';
        if ((k = status_field(buf, "\nThreads:", 10, &threads)) < 0 ||
            (k = status_field(buf, "\nCapBnd:", 16, &caps)) < 0)
                return k;
        *bounding = caps;
        return threads == 1 ? 0 : -EBUSY;
}

int oh_broker_confine(const struct oh_ceiling *ceiling, unsigned int flags)
{
        uint64_t bounding = 0;
        int k = flags & OH_CONFINE_FORKED ? 0 : check_single_threaded(&bounding);
        if (k < 0)
                return k;

        /* glibc reads the time zone on first use; the log should not find
         * /etc/localtime walled off. */
        if (!(flags & OH_CONFINE_FORKED))
                tzset();

        /* A seccomp supervisor must read its targets' memory, which
         * Landlock allows only into the supervisor's own domain or one
         * nested in it: openhook run raises the floor in the process that
         * starts both broker and command (oh_landlock_floor()), and the
         * broker adds no domain of its own on top.  Without Landlock in
         * the kernel the other layers still go up. */
        if (ceiling && !(flags & OH_CONFINE_NO_LANDLOCK))
                k = oh_ceiling_apply(ceiling, NULL, 0, 0);
        if (k >= 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                k = oh_negerrno();
        if (k < 0)
                return k;

        k = confine_capabilities(flags, bounding);
        if (k < 0)
                return k;
        return confine_seccomp(flags);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolution and the file operations, on real trees under a mkdtemp
 * directory.  Each scenario has a directory with "in/" (what the policy
 * grants, usually) and "out/" (outside, holding a secret), states a policy,
 * does one thing and checks the answer and the disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "created.h"
#include "policy.h"
#include "resolve.h"
#include "tap.h"
#include "util.h"

static char tmp[64];
static char base[256];
static struct openhook_policy *pol;
static struct oh_verdict v;

/* Absolute path of REL in the current scenario (a few live at once). */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
        static char ring[16][1024];
        static unsigned i;
        char rel[512];
        char *b = ring[i++ % 16];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        snprintf(b, sizeof(ring[0]), "%s/%s", base, rel);
        return b;
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                abort();
        close(fd);
}

static bool has_content(const char *path, const char *text)
{
        char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return strcmp(buf, text) == 0;
}

static bool fd_has_content(int fd, const char *text)
{
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        if (n < 0)
                return false;
        buf[n] = '\0';
        return strcmp(buf, text) == 0;
}

static bool exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

static void scenario(const char *name)
{
        snprintf(base, sizeof(base), "%s/%s", tmp, name);
        if (mkdir(base, 0755) < 0 || mkdir(P("in"), 0755) < 0 || mkdir(P("out"), 0755) < 0)
                abort();
        write_file(P("in/file"), "DATA");
        write_file(P("out/secret"), "SECRET");
        if (openhook_policy_new(&pol) < 0)
                abort();
}

static void allow(const char *perms, const char *rel)
{
        char arg[1100];

        snprintf(arg, sizeof(arg), "%s:%s", perms, P("%s", rel));
        CHECK_EQ(openhook_policy_allow_arg(pol, arg, NULL), 0);
}

static void allow_abs(const char *perms, const char *path)
{
        char arg[1100];

        snprintf(arg, sizeof(arg), "%s:%s", perms, path);
        CHECK_EQ(openhook_policy_allow_arg(pol, arg, NULL), 0);
}

/* Makes directory REL and grants PERMS on it and all below it. */
static void allow_new_dir(const char *perms, const char *rel)
{
        char sub[512];

        CHECK(mkdir(P("%s", rel), 0755) == 0);
        snprintf(sub, sizeof(sub), "%s/", rel);
        allow(perms, sub);
}

static void deny(const char *rel)
{
        CHECK_EQ(openhook_policy_deny(pol, P("%s", rel), NULL), 0);
}

static void done(void)
{
        openhook_policy_free(pol);
        pol = NULL;
}

/* Opens and closes: 0 on success, else the -errno. */
static int try_open(const char *path, int flags, mode_t mode)
{
        int fd = oh_do_open(pol, path, flags, mode, &v);

        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

/* ---- open: where a path leads -------------------------------------------- */

static void file_inside_policy_opens_with_its_content(void)
{
        int fd;

        scenario("open-inside");
        allow("r", "in/");
        fd = oh_do_open(pol, P("in/file"), O_RDONLY, 0, &v);
        CHECK(fd >= 0);
        CHECK(fd_has_content(fd, "DATA"));
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
        CHECK_EQ(v.denied, 0);
        close(fd);
        CHECK_EQ(try_open(P("in/./file"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in//file"), O_RDONLY, 0), 0);
        done();
}

static void file_outside_policy_is_refused_with_a_hint(void)
{
        char expected[1100];

        scenario("open-outside");
        allow("r", "in/");
        CHECK_EQ(try_open(P("out/secret"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(v.denied, 1);
        snprintf(expected, sizeof(expected), "--allow r:%s", P("out/secret"));
        CHECK_STREQ(v.hint, expected);
        CHECK_EQ(try_open(P("in/file"), O_RDWR, 0), -EACCES);
        snprintf(expected, sizeof(expected), "--allow rw:%s", P("in/file"));
        CHECK_STREQ(v.hint, expected);
        done();
}

static void dotdot_escape_is_refused(void)
{
        scenario("dotdot-escape");
        allow("rwcd", "in/");
        CHECK(mkdir(P("in/sub"), 0755) == 0);
        CHECK_EQ(try_open(P("in/../out/secret"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/sub/../../out/secret"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/sub/../../out/new"), O_WRONLY | O_CREAT, 0644), -EACCES);
        CHECK(!exists(P("out/new")));
        CHECK_EQ(v.denied, 1);
        done();
}

static void dotdot_inside_policy_is_followed(void)
{
        scenario("dotdot-inside");
        allow("r", "in/");
        CHECK(mkdir(P("in/sub"), 0755) == 0);
        CHECK_EQ(try_open(P("in/sub/../file"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/sub/./.././sub/../file"), O_RDONLY, 0), 0);
        done();
}

static void symlinks_inside_policy_are_followed(void)
{
        int fd;

        scenario("symlink-inside");
        allow("r", "in/");
        CHECK(mkdir(P("in/sub"), 0755) == 0);
        CHECK(symlink("../file", P("in/sub/rel")) == 0);
        CHECK(symlink(P("in/file"), P("in/abs")) == 0);
        CHECK(symlink("sub", P("in/dirlink")) == 0);
        fd = oh_do_open(pol, P("in/sub/rel"), O_RDONLY, 0, &v);
        CHECK(fd >= 0 && fd_has_content(fd, "DATA"));
        if (fd >= 0)
                close(fd);
        CHECK_EQ(try_open(P("in/abs"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/dirlink/rel"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/dirlink/../file"), O_RDONLY, 0), 0);  /* `..` after expanding the link */
        CHECK(symlink(P("in/sub"), P("in/absdir")) == 0);
        CHECK(symlink(P("in"), P("in/sub/up")) == 0);
        for (int i = 0; i < 3; i++) {
                int keep = open("/dev/null", O_RDONLY | O_CLOEXEC);     /* vary the free fd numbers */

                CHECK_EQ(try_open(P("in/absdir/rel"), O_RDONLY, 0), 0);
                CHECK_EQ(try_open(P("in/absdir/../abs"), O_RDONLY, 0), 0);
                CHECK_EQ(try_open(P("in/sub/up/sub/up/file"), O_RDONLY, 0), 0);
                CHECK(fcntl(keep, F_GETFD) >= 0);                       /* not closed behind our back */
                close(keep);
        }
        done();
}

static void symlinks_to_outside_are_refused(void)
{
        scenario("symlink-outside");
        allow("rwcd", "in/");
        CHECK(symlink("../out/secret", P("in/rel")) == 0);
        CHECK(symlink(P("out/secret"), P("in/abs")) == 0);
        CHECK(symlink("../out", P("in/dirlink")) == 0);
        CHECK_EQ(try_open(P("in/rel"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/abs"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/dirlink/secret"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/abs"), O_WRONLY | O_TRUNC, 0), -EACCES);
        CHECK(has_content(P("out/secret"), "SECRET"));
        CHECK_EQ(oh_do_truncate(pol, P("in/abs"), 0, &v), -EACCES);
        CHECK(has_content(P("out/secret"), "SECRET"));
        done();
}

static void rule_naming_a_symlink_does_not_grant_its_target(void)
{
        scenario("symlink-narrow-rule");
        CHECK(mkdir(P("in/sub"), 0755) == 0);
        write_file(P("in/sub/inner"), "INNER");
        CHECK(symlink("sub/inner", P("in/to-inner")) == 0);
        allow("r", "in/file");
        allow("r", "in/to-inner");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/to-inner"), O_RDONLY, 0), -EACCES);     /* followed, target refused */
        CHECK_EQ(try_open(P("in/to-inner"), O_PATH | O_NOFOLLOW, 0), 0); /* the link itself */
        done();
}

static void symlink_planted_outside_pointing_inside_is_refused(void)
{
        scenario("symlink-planted");
        allow("rw", "in/");
        CHECK(symlink(P("in/file"), P("out/link")) == 0);
        CHECK(symlink(P("in"), P("out/dirlink")) == 0);
        CHECK_EQ(try_open(P("out/link"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/dirlink/file"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(v.denied, 1);
        done();
}

static void symlink_named_by_a_rule_is_followed(void)
{
        scenario("symlink-named");
        CHECK(mkdir(P("in/real"), 0755) == 0);
        write_file(P("in/real/f"), "REAL");
        CHECK(symlink("../in/real", P("out/alias")) == 0);      /* like /var/run -> ../run */
        CHECK(symlink("../in/real", P("out/other")) == 0);
        allow("r", "out/alias/");
        CHECK_EQ(try_open(P("out/alias/f"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/real/f"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("out/other/f"), O_RDONLY, 0), -EACCES);    /* not named by any rule */
        CHECK_EQ(try_open(P("out/secret"), O_RDONLY, 0), -EACCES);
        done();
}

static void symlink_loop_inside_policy_is_eloop(void)
{
        scenario("symlink-loop");
        allow("r", "in/");
        CHECK(symlink("b", P("in/a")) == 0);
        CHECK(symlink("a", P("in/b")) == 0);
        CHECK_EQ(try_open(P("in/a"), O_RDONLY, 0), -ELOOP);
        CHECK_EQ(try_open(P("in/a/x"), O_RDONLY, 0), -ELOOP);
        done();
}

/* A symlink whose text walks down and back up many times before naming
 * itself costs thousands of lookups per hop: the components a request
 * visits are counted, and the walk's own ELOOP is its answer, never a
 * reason to walk again.  Before the count, this took seconds. */
static void walk_work_is_bounded_per_request(void)
{
        char text[4096] = "";
        struct timespec t0, t1;
        double ms;

        scenario("walk-budget");
        allow("rwcd", "in/");
        CHECK(mkdir(P("in/d"), 0755) == 0);
        for (int i = 0; i < 800; i++)
                strcat(text, "d/../");
        strcat(text, "loop");
        CHECK(symlink(text, P("in/loop")) == 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_EQ(try_open(P("in/loop"), O_RDONLY, 0), -ELOOP);
        CHECK_EQ(try_open(P("in/loop/x"), O_WRONLY | O_CREAT, 0644), -ELOOP);
        CHECK_EQ(oh_do_rename(pol, P("in/loop/x"), P("in/loop/y"), 0, &v), -ELOOP);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("# three requests through the hostile chain: %.1f ms\n", ms);
        CHECK(ms < 1500);
        CHECK(has_content(P("in/file"), "DATA"));
        done();
}

/* A symlink at LINK whose text is N "./" components and then TARGET. */
static void dots_link(int n, const char *target, const char *link)
{
        char text[4096] = "";

        for (int i = 0; i < n; i++)
                strcat(text, "./");
        strcat(text, target);
        CHECK(symlink(text, link) == 0);
}

static int components(const char *path)
{
        int n = 0;

        for (const char *c = path; *c; c++)
                n += *c == '/';
        return n;
}

/* The count is exact and covers what symlinks splice in: a walk of 4,096
 * components succeeds, one of 4,097 is ELOOP. */
static void walk_budget_counts_spliced_components(void)
{
        int rest;

        scenario("walk-budget-exact");
        allow("r", "in/");
        dots_link(2000, "file", P("in/one"));          /* 2,001 components */
        dots_link(2000, "one", P("in/two"));
        rest = 4096 - components(P("in/x")) - 2 * 2001;
        dots_link(rest - 1, "two", P("in/fits"));
        dots_link(rest, "two", P("in/over"));
        CHECK_EQ(try_open(P("in/fits"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/over"), O_RDONLY, 0), -ELOOP);
        done();
}

/* A process that is not the broker, for /proc scenarios. */
static pid_t start_other_process(void)
{
        pid_t pid = fork();

        if (pid == 0) {
                pause();
                _exit(0);
        }
        if (pid < 0)
                abort();
        return pid;
}

static void stop_other_process(pid_t pid)
{
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* Has /proc/PID/status's "Pid:" line for PID. */
static bool fd_is_status_of(int fd, pid_t pid)
{
        char buf[4096], want[32];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        if (n < 0)
                return false;
        buf[n] = '\0';
        snprintf(want, sizeof(want), "\nPid:\t%d\n", (int) pid);
        return strstr(buf, want) != NULL;
}

static void *idle_thread(void *arg)
{
        int *tid = arg;

        __atomic_store_n(tid, (int) syscall(SYS_gettid), __ATOMIC_RELEASE);
        pause();
        return NULL;
}

static void symlink_to_proc_self_is_refused(void)
{
        char target[64];

        scenario("proc-self-link");
        allow("r", "in/");
        allow_abs("r", "/proc/");
        /* Planted by the peer: followed by the broker, /proc/self would be
         * the broker's environment, not the peer's. */
        CHECK(symlink("/proc/self/environ", P("in/environ")) == 0);
        CHECK(symlink("/proc/self/status", P("in/status")) == 0);
        CHECK(symlink("/proc/thread-self/status", P("in/thread-status")) == 0);
        snprintf(target, sizeof(target), "/proc/%d/status", (int) getpid());
        CHECK(symlink(target, P("in/pid-status")) == 0);
        CHECK(symlink("/proc/self", P("in/self")) == 0);
        CHECK_EQ(try_open(P("in/environ"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(strstr(v.hint, "broker's own process") != NULL);
        CHECK_EQ(try_open(P("in/status"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/thread-status"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/pid-status"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/self/status"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/self"), O_RDONLY | O_DIRECTORY, 0), -EACCES);
        done();
}

static void broker_proc_entries_are_refused_however_named(void)
{
        char p[128];
        pthread_t t;
        int tid = 0;

        scenario("proc-broker");
        allow_abs("r", "/proc/");
        CHECK(pthread_create(&t, NULL, idle_thread, &tid) == 0);
        while (!__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
                usleep(1000);
        CHECK_EQ(try_open("/proc/self/status", O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open("/proc/thread-self/status", O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open("/proc/./self/status", O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open("/proc/self", O_PATH | O_NOFOLLOW, 0), -EACCES);
        snprintf(p, sizeof(p), "/proc/%d/status", (int) getpid());
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        snprintf(p, sizeof(p), "/proc/%d/environ", (int) getpid());
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        /* A thread's id names the broker too, even though /proc does not
         * list it. */
        snprintf(p, sizeof(p), "/proc/%d/status", tid);
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        snprintf(p, sizeof(p), "/proc/%d/task/%d/status", (int) getpid(), tid);
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        pthread_cancel(t);
        pthread_join(t, NULL);
        done();
}

/* A clean path with a number in it is acted on without a walk, and what
 * acting reached tells whether it was the broker's /proc: every operation
 * that acts through an fd, not only open. */
static void broker_proc_entries_are_refused_to_every_operation(void)
{
        char p[128];

        scenario("proc-broker-ops");
        allow_abs("rw", "/proc/");
        snprintf(p, sizeof(p), "/proc/%d/environ", (int) getpid());
        CHECK_EQ(oh_do_access(pol, p, R_OK, 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        snprintf(p, sizeof(p), "/proc/%d/attr/current", (int) getpid());
        CHECK_EQ(oh_do_truncate(pol, p, 0, &v), -EACCES);
        CHECK_EQ(oh_do_chmod(pol, p, 0600, 0, &v), -EACCES);
        snprintf(p, sizeof(p), "/proc/%d/fd", (int) getpid());
        CHECK_EQ(try_open(p, O_RDONLY | O_DIRECTORY, 0), -EACCES);
        done();
}

static void other_process_proc_entries_are_served(void)
{
        char p[128];
        pid_t other;
        int fd;

        scenario("proc-other");
        allow("r", "in/");
        allow_abs("r", "/proc/");
        other = start_other_process();
        snprintf(p, sizeof(p), "/proc/%d/status", (int) other);
        fd = oh_do_open(pol, p, O_RDONLY, 0, &v);
        CHECK(fd >= 0);
        CHECK(fd >= 0 && fd_is_status_of(fd, other));
        if (fd >= 0)
                close(fd);
        CHECK(symlink(p, P("in/other-status")) == 0);
        fd = oh_do_open(pol, P("in/other-status"), O_RDONLY, 0, &v);
        CHECK(fd >= 0 && fd_is_status_of(fd, other));
        if (fd >= 0)
                close(fd);
        /* Numbers elsewhere are only names. */
        CHECK(mkdir(P("in/1"), 0755) == 0);
        snprintf(p, sizeof(p), "%d", (int) getpid());
        write_file(P("in/1/%s", p), "NUMBERED");
        CHECK_EQ(try_open(P("in/1/%s", p), O_RDONLY, 0), 0);
        stop_other_process(other);
        done();
}

static void proc_self_root_magic_link_cannot_escape(void)
{
        char outside[1100], inside[1100];

        scenario("proc-root");
        allow("r", "in/");
        snprintf(outside, sizeof(outside), "/proc/self/root%s", P("out/secret"));
        snprintf(inside, sizeof(inside), "/proc/self/root%s", P("in/file"));
        /* /proc/self is not in the policy: its links are never followed. */
        CHECK_EQ(try_open(inside, O_RDONLY, 0), -EACCES);
        allow_abs("r", "/proc/");
        CHECK_EQ(try_open(outside, O_RDONLY, 0), -EACCES);
        /* /proc/self is the broker itself: never entered. */
        CHECK_EQ(try_open(inside, O_RDONLY, 0), -EACCES);
        /* Another process's root link, taken as text, leads to a path
         * decided on its own. */
        {
                pid_t other = start_other_process();

                snprintf(outside, sizeof(outside), "/proc/%d/root%s", (int) other, P("out/secret"));
                snprintf(inside, sizeof(inside), "/proc/%d/root%s", (int) other, P("in/file"));
                CHECK_EQ(try_open(outside, O_RDONLY, 0), -EACCES);
                CHECK_EQ(try_open(inside, O_RDONLY, 0), 0);
                stop_other_process(other);
        }
        done();
}

static void proc_self_fd_magic_link_cannot_escape(void)
{
        char p[64];
        int fd;

        scenario("proc-fd");
        allow("r", "in/");
        allow_abs("r", "/proc/");
        fd = open(P("out/secret"), O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        snprintf(p, sizeof(p), "/proc/thread-self/fd/%d", fd);
        CHECK_EQ(try_open(p, O_RDONLY, 0), -EACCES);
        close(fd);
        done();
}

static void existence_outside_policy_is_not_revealed(void)
{
        scenario("no-oracle");
        allow("rwcd", "in/");
        CHECK(mkdir(P("out/dir"), 0755) == 0);
        /* Same answer whether or not the outside name exists, and through
         * whatever the walk meets on the way. */
        CHECK_EQ(try_open(P("out/secret"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/missing"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/secret/x"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/missing/x"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/../out/missing"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/../out/secret"), O_RDONLY, 0), -EACCES);
        /* Probing with `..` out of an outside directory. */
        CHECK_EQ(try_open(P("out/dir/../../in/file"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/nodir/../../in/file"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("out/secret/../../in/file"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(oh_do_unlink(pol, P("out/missing"), &v), -EACCES);
        CHECK_EQ(oh_do_unlink(pol, P("out/secret"), &v), -EACCES);
        CHECK_EQ(oh_do_mkdir(pol, P("out/dir"), 0755, &v), -EACCES);
        CHECK_EQ(oh_do_mkdir(pol, P("out/new"), 0755, &v), -EACCES);
        CHECK(has_content(P("out/secret"), "SECRET"));
        CHECK(!exists(P("out/new")));
        /* Inside the policy the kernel's answer is the honest one. */
        CHECK_EQ(try_open(P("in/missing"), O_RDONLY, 0), -ENOENT);
        CHECK_EQ(try_open(P("in/missing/x"), O_RDONLY, 0), -ENOENT);
        CHECK_EQ(try_open(P("in/file/x"), O_RDONLY, 0), -ENOTDIR);
        CHECK_EQ(v.denied, 0);
        done();
}

static void exact_file_rule_reveals_nothing_beside_it(void)
{
        scenario("exact-rule");
        allow("r", "in/file");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/other"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/nodir/x"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY, 0), -EACCES);
        done();
}

static void create_through_outside_symlink_is_refused(void)
{
        scenario("create-through-symlink");
        allow("rwcd", "in/");
        CHECK(symlink("../out", P("in/dirlink")) == 0);
        CHECK(symlink("../out/new2", P("in/dangling")) == 0);
        CHECK_EQ(try_open(P("in/dirlink/new"), O_WRONLY | O_CREAT, 0644), -EACCES);
        CHECK_EQ(try_open(P("in/dangling"), O_WRONLY | O_CREAT, 0644), -EACCES);
        CHECK_EQ(oh_do_mkdir(pol, P("in/dirlink/newdir"), 0755, &v), -EACCES);
        CHECK_EQ(oh_do_symlink(pol, "x", P("in/dirlink/newlink"), &v), -EACCES);
        CHECK(!exists(P("out/new")));
        CHECK(!exists(P("out/new2")));
        CHECK(!exists(P("out/newdir")));
        CHECK(!exists(P("out/newlink")));
        done();
}

static void dangling_symlink_inside_creates_its_target(void)
{
        scenario("create-dangling-inside");
        allow("rwc", "in/");
        CHECK(symlink("target", P("in/dangling")) == 0);
        CHECK_EQ(try_open(P("in/dangling"), O_WRONLY | O_CREAT, 0644), 0);
        CHECK(exists(P("in/target")));
        done();
}

/* ---- open: flags ------------------------------------------------------- */

static void truncate_flag_without_w_leaves_content_intact(void)
{
        scenario("trunc-needs-w");
        allow("rc", "in/");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY | O_TRUNC, 0), -EACCES);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_CREAT | O_TRUNC, 0644), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(has_content(P("in/file"), "DATA"));
        done();
}

static void create_without_w_cannot_open_existing_file_for_writing(void)
{
        int fd;

        scenario("c-without-w");
        allow("c", "in/");
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_CREAT, 0644), -EACCES);
        CHECK_EQ(try_open(P("in/file"), O_RDWR | O_CREAT | O_APPEND, 0644), -EACCES);
        CHECK(has_content(P("in/file"), "DATA"));
        fd = oh_do_open(pol, P("in/new"), O_WRONLY | O_CREAT, 0644, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK_EQ(write(fd, "mine", 4), 4);
                close(fd);
        }
        CHECK(has_content(P("in/new"), "mine"));
        done();
}

static void write_without_c_cannot_create(void)
{
        char expected[1100];

        scenario("w-without-c");
        allow("rw", "in/");
        CHECK_EQ(try_open(P("in/new"), O_WRONLY | O_CREAT, 0644), -EACCES);
        CHECK(!exists(P("in/new")));
        snprintf(expected, sizeof(expected), "--allow rwc:%s (or rwc:%s for any new file there)",
                 P("in/new"), P("in/"));
        CHECK_STREQ(v.hint, expected);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_CREAT, 0644), 0);  /* exists: no c needed */
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_CREAT | O_EXCL, 0644), -EACCES);
        done();
}

static void excl_create_does_not_follow_a_symlink(void)
{
        scenario("excl-symlink");
        allow("rwc", "in/");
        CHECK(symlink("file", P("in/link")) == 0);
        CHECK(symlink("nothing", P("in/dangling")) == 0);
        CHECK_EQ(try_open(P("in/link"), O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
        CHECK_EQ(try_open(P("in/dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644), -EEXIST);
        CHECK(!exists(P("in/nothing")));
        CHECK(has_content(P("in/file"), "DATA"));
        done();
}

static void create_mode_loses_setuid_setgid_and_sticky(void)
{
        struct stat st;

        scenario("mode-stripped");
        allow("rwc", "in/");
        CHECK_EQ(try_open(P("in/suid"), O_WRONLY | O_CREAT, 06777), 0);
        CHECK(stat(P("in/suid"), &st) == 0 && (st.st_mode & 07000) == 0);
        CHECK_EQ(oh_do_mkdir(pol, P("in/sticky"), 07777, &v), 0);
        CHECK(stat(P("in/sticky"), &st) == 0 && (st.st_mode & 07000) == 0);
        done();
}

static void fifo_open_never_hangs(void)
{
        int fd, reader;

        scenario("fifo");
        allow("rw", "in/");
        CHECK(mkfifo(P("in/fifo"), 0644) == 0);
        /* No writer: reading opens at once, and the fd blocks as asked. */
        fd = oh_do_open(pol, P("in/fifo"), O_RDONLY, 0, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
                close(fd);
        }
        /* No reader: writing fails instead of blocking the broker. */
        CHECK_EQ(try_open(P("in/fifo"), O_WRONLY, 0), -ENXIO);
        reader = open(P("in/fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        CHECK(reader >= 0);
        fd = oh_do_open(pol, P("in/fifo"), O_WRONLY, 0, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
                CHECK_EQ(write(fd, "x", 1), 1);
                close(fd);
        }
        fd = oh_do_open(pol, P("in/fifo"), O_WRONLY | O_NONBLOCK | O_APPEND, 0, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
                close(fd);
        }
        close(reader);
        done();
}

static void o_path_needs_r(void)
{
        int fd;

        scenario("o-path");
        allow("w", "in/");
        allow("r", "in/sub/");
        CHECK(mkdir(P("in/sub"), 0755) == 0);
        write_file(P("in/sub/f"), "x");
        CHECK_EQ(try_open(P("in/file"), O_PATH, 0), -EACCES);
        fd = oh_do_open(pol, P("in/sub/f"), O_PATH | O_RDWR | O_TRUNC, 0, &v);   /* other flags ignored */
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(fcntl(fd, F_GETFL) & O_PATH);
                close(fd);
        }
        CHECK(has_content(P("in/sub/f"), "x"));
        done();
}

static void o_nofollow_is_honoured(void)
{
        struct stat st;
        int fd;

        scenario("o-nofollow");
        allow("r", "in/");
        CHECK(symlink("file", P("in/link")) == 0);
        CHECK_EQ(try_open(P("in/link"), O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
        CHECK_EQ(try_open(P("in/./link"), O_RDONLY | O_NOFOLLOW, 0), -ELOOP);   /* the walk too */
        fd = oh_do_open(pol, P("in/link"), O_PATH | O_NOFOLLOW, 0, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode));
                close(fd);
        }
        CHECK_EQ(try_open(P("in/link"), O_RDONLY, 0), 0);
        done();
}

static void o_directory_is_passed_through(void)
{
        int fd;

        scenario("o-directory");
        allow("r", "in/");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
        fd = oh_do_open(pol, P("in"), O_RDONLY | O_DIRECTORY, 0, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                DIR *d = fdopendir(fd);
                int n = 0;

                while (d && readdir(d))
                        n++;
                CHECK_EQ(n, 3);
                if (d)
                        closedir(d);
        }
        done();
}

static void o_tmpfile_needs_c_and_w(void)
{
        int fd;

        scenario("o-tmpfile");
        allow("c", "in/");
        allow("w", "out/");
        CHECK(mkdir(P("in/cw"), 0755) == 0);
        allow("cw", "in/cw/");
        CHECK_EQ(try_open(P("in"), O_TMPFILE | O_WRONLY, 0600), -EACCES);
        CHECK_EQ(try_open(P("out"), O_TMPFILE | O_WRONLY, 0600), -EACCES);
        CHECK_EQ(try_open(P("in/cw"), O_TMPFILE | O_RDONLY, 0600), -EINVAL);
        fd = oh_do_open(pol, P("in/cw"), O_TMPFILE | O_RDWR, 0600, &v);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK_EQ(write(fd, "t", 1), 1);
                close(fd);
        }
        done();
}

static void unknown_flag_bits_are_invalid(void)
{
        scenario("bad-flags");
        allow("rwcd", "in/");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY | 0x40000000, 0), -EINVAL);
        CHECK_EQ(try_open(P("in/file"), O_ACCMODE, 0), -EINVAL);
        CHECK_EQ(try_open("in/file", O_RDONLY, 0), -EINVAL);   /* relative */
        CHECK_EQ(oh_do_rename(pol, P("in/file"), P("in/x"), 1u << 5, &v), -EINVAL);
        CHECK(has_content(P("in/file"), "DATA"));
        done();
}

static void deny_inside_allow_is_refused_with_its_origin(void)
{
        char expected[1100];

        scenario("deny-inside");
        allow("rwcd", "in/");
        deny("in/private/");
        CHECK(mkdir(P("in/private"), 0755) == 0);
        write_file(P("in/private/key"), "KEY");
        CHECK_EQ(try_open(P("in/private/key"), O_RDONLY, 0), -EACCES);
        snprintf(expected, sizeof(expected), "denied by 'deny %s' (--deny %s)", P("in/private/"), P("in/private/"));
        CHECK_STREQ(v.hint, expected);
        CHECK_EQ(oh_do_unlink(pol, P("in/private/key"), &v), -EACCES);
        CHECK_EQ(oh_do_rename(pol, P("in/private/key"), P("in/key"), 0, &v), -EACCES);
        CHECK_EQ(oh_do_rename(pol, P("in/private"), P("in/public"), 0, &v), -EACCES);
        CHECK_EQ(try_open(P("in/private/../file"), O_RDONLY, 0), -EACCES);    /* `..` out of it too */
        CHECK(has_content(P("in/private/key"), "KEY"));
        CHECK_EQ(try_open(P("in/file"), O_RDONLY, 0), 0);
        done();
}

/* ---- the other operations ---------------------------------------------- */

static void mkdir_needs_c(void)
{
        struct stat st;

        scenario("mkdir");
        allow("rw", "in/");
        allow("c", "in/c/");
        CHECK(mkdir(P("in/c"), 0755) == 0);
        CHECK_EQ(oh_do_mkdir(pol, P("in/d"), 0755, &v), -EACCES);
        CHECK(!exists(P("in/d")));
        CHECK_EQ(oh_do_mkdir(pol, P("in/c/d"), 0755, &v), 0);
        CHECK(stat(P("in/c/d"), &st) == 0 && S_ISDIR(st.st_mode));
        CHECK_EQ(oh_do_mkdir(pol, P("in/c/d"), 0755, &v), -EEXIST);
        CHECK_EQ(oh_do_mkdir(pol, P("in/c/x/y"), 0755, &v), -ENOENT);
        done();
}

static void unlink_and_rmdir_need_d_and_do_not_follow(void)
{
        scenario("unlink-rmdir");
        allow("rwc", "in/");
        allow("d", "in/d/");
        CHECK(mkdir(P("in/d"), 0755) == 0);
        CHECK(mkdir(P("in/d/dir"), 0755) == 0);
        write_file(P("in/d/f"), "f");
        CHECK(symlink(P("out/secret"), P("in/d/link")) == 0);
        CHECK_EQ(oh_do_unlink(pol, P("in/file"), &v), -EACCES);
        CHECK(exists(P("in/file")));
        CHECK_EQ(oh_do_unlink(pol, P("in/d/f"), &v), 0);
        CHECK(!exists(P("in/d/f")));
        CHECK_EQ(oh_do_unlink(pol, P("in/d/link"), &v), 0);   /* the link, not its target */
        CHECK(!exists(P("in/d/link")));
        CHECK(has_content(P("out/secret"), "SECRET"));
        CHECK_EQ(oh_do_unlink(pol, P("in/d/dir"), &v), -EISDIR);
        CHECK_EQ(oh_do_rmdir(pol, P("in/d/dir"), &v), 0);
        CHECK(!exists(P("in/d/dir")));
        CHECK_EQ(oh_do_rmdir(pol, P("in/d/dir"), &v), -ENOENT);
        CHECK_EQ(oh_do_rmdir(pol, P("in"), &v), -EACCES);
        done();
}

static void rename_needs_d_on_old_and_c_on_new(void)
{
        scenario("rename");
        allow("r", "in/");
        allow("rd", "in/src/");
        allow("rc", "in/dst/");
        allow("rcd", "in/both/");
        CHECK(mkdir(P("in/src"), 0755) == 0 && mkdir(P("in/dst"), 0755) == 0 && mkdir(P("in/both"), 0755) == 0);
        write_file(P("in/src/a"), "A");
        write_file(P("in/src/b"), "B");
        write_file(P("in/dst/b"), "OLD");
        write_file(P("in/both/x"), "X");
        write_file(P("in/both/y"), "Y");

        CHECK_EQ(oh_do_rename(pol, P("in/dst/b"), P("in/src/z"), 0, &v), -EACCES);  /* no d on old, no c on new */
        CHECK_EQ(oh_do_rename(pol, P("in/src/a"), P("out/a"), 0, &v), -EACCES);
        CHECK(exists(P("in/src/a")) && !exists(P("out/a")));
        CHECK_EQ(oh_do_rename(pol, P("in/src/a"), P("in/dst/a"), 0, &v), 0);
        CHECK(!exists(P("in/src/a")) && has_content(P("in/dst/a"), "A"));
        /* Replacing needs d on the new name: nothing is replaced. */
        CHECK_EQ(oh_do_rename(pol, P("in/src/b"), P("in/dst/b"), 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(has_content(P("in/dst/b"), "OLD") && has_content(P("in/src/b"), "B"));
        CHECK_EQ(oh_do_rename(pol, P("in/src/b"), P("in/both/x"), RENAME_NOREPLACE, &v), -EEXIST);
        CHECK_EQ(v.denied, 0);
        CHECK_EQ(oh_do_rename(pol, P("in/src/b"), P("in/both/x"), 0, &v), 0);
        CHECK(has_content(P("in/both/x"), "B"));
        /* Exchange moves both names both ways. */
        CHECK_EQ(oh_do_rename(pol, P("in/dst/a"), P("in/both/y"), RENAME_EXCHANGE, &v), -EACCES);
        CHECK(has_content(P("in/dst/a"), "A"));
        CHECK_EQ(oh_do_rename(pol, P("in/both/x"), P("in/both/y"), RENAME_EXCHANGE, &v), 0);
        CHECK(has_content(P("in/both/x"), "Y") && has_content(P("in/both/y"), "B"));
        CHECK_EQ(oh_do_rename(pol, P("in/both/x"), P("in/both/y"), RENAME_EXCHANGE | RENAME_NOREPLACE, &v), -EINVAL);
        done();
}

/* A rule below a directory decides on what lies there only while it lies
 * there: moving the directory would carry a denied or read-only subtree to
 * where a broader rule decides. */
static void renaming_a_directory_above_a_rule_is_refused(void)
{
        scenario("rename-above-rule");
        allow("rwcd", "in/");
        deny("in/sub/secret/");
        allow("r", "in/sub/ro/");
        CHECK(mkdir(P("in/sub"), 0755) == 0 && mkdir(P("in/sub/secret"), 0755) == 0);
        CHECK(mkdir(P("in/sub/ro"), 0755) == 0 && mkdir(P("in/other"), 0755) == 0);
        write_file(P("in/sub/secret/key"), "KEY");
        write_file(P("in/sub/ro/conf"), "CONF");

        CHECK_EQ(oh_do_rename(pol, P("in/sub"), P("in/moved"), 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(!exists(P("in/moved")) && has_content(P("in/sub/secret/key"), "KEY"));
        CHECK_EQ(oh_do_rename(pol, P("in/other"), P("in/sub"), RENAME_EXCHANGE, &v), -EACCES);
        CHECK(has_content(P("in/sub/ro/conf"), "CONF") && exists(P("in/other")));
        /* Moving a directory to where a rule lies below would hand that rule
         * what it carries. */
        allow("rw", "in/new/ro/");
        CHECK(mkdir(P("in/other/ro"), 0755) == 0);
        CHECK_EQ(oh_do_rename(pol, P("in/other"), P("in/new"), 0, &v), -EACCES);
        CHECK(exists(P("in/other/ro")) && !exists(P("in/new")));
        CHECK_EQ(try_open(P("in/moved/secret/key"), O_RDONLY, 0), -ENOENT);
        CHECK_EQ(oh_do_rename(pol, P("in/file"), P("in/file2"), 0, &v), 0);    /* no rule below: fine */
        done();
}

/* An exact rule may let a directory be renamed while what is inside it is
 * denied: its contents must not be carried to where they could be read. */
static void renaming_a_directory_cannot_widen_access_to_its_contents(void)
{
        scenario("rename-widen");
        allow("rcd", "in/readable/");
        allow("rwcd", "in/rw/");
        deny("in/deny/");
        allow("rd", "in/deny/dir");
        CHECK(mkdir(P("in/readable"), 0755) == 0 && mkdir(P("in/rw"), 0755) == 0);
        CHECK(mkdir(P("in/deny"), 0755) == 0 && mkdir(P("in/deny/dir"), 0755) == 0);
        write_file(P("in/deny/dir/hidden"), "HIDDEN");
        write_file(P("in/rw/f"), "RW");

        CHECK_EQ(oh_do_rename(pol, P("in/deny/dir"), P("in/readable/dir"), 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(has_content(P("in/deny/dir/hidden"), "HIDDEN") && !exists(P("in/readable/dir")));
        CHECK_EQ(try_open(P("in/readable/dir/hidden"), O_RDONLY, 0), -ENOENT);
        CHECK_EQ(oh_do_rename(pol, P("in/rw/f"), P("in/readable/f"), 0, &v), 0);       /* loses w: fine */
        CHECK(has_content(P("in/readable/f"), "RW"));
        done();
}

/* Issue 8: a file it could not read where it was must not become readable
 * by renaming it, whatever kind of object it is. */
static void renaming_a_file_cannot_give_it_letters(void)
{
        scenario("rename-file-widen");
        allow("d", "out/secret");
        allow_new_dir("rwc", "in/w");
        allow_new_dir("rwcd", "in/rw");
        allow_new_dir("rcd", "in/ro");
        write_file(P("in/ro/f"), "RO");
        write_file(P("in/rw/f"), "RW");

        CHECK_EQ(oh_do_rename(pol, P("out/secret"), P("in/w/x"), 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(has_content(P("out/secret"), "SECRET") && !exists(P("in/w/x")));
        CHECK_EQ(try_open(P("in/w/x"), O_RDONLY, 0), -ENOENT);
        CHECK_EQ(oh_do_rename(pol, P("in/ro/f"), P("in/rw/g"), 0, &v), -EACCES);        /* would add w */
        CHECK(has_content(P("in/ro/f"), "RO") && !exists(P("in/rw/g")));
        CHECK_EQ(oh_do_rename(pol, P("in/rw/f"), P("in/ro/f2"), 0, &v), 0);           /* loses w: fine */
        CHECK(has_content(P("in/ro/f2"), "RW"));
        /* Unlinking what it may delete stays possible. */
        CHECK_EQ(oh_do_unlink(pol, P("out/secret"), &v), 0);
        done();
}

/* Issue 8: a hard link to a read-only file, made where links are allowed
 * because they add nothing, then moved to where files are writable. */
static void link_then_rename_cannot_write_a_read_only_file(void)
{
        scenario("link-rename-chain");
        allow_new_dir("r", "in/data");
        allow_new_dir("rcd", "in/scratch");
        allow_new_dir("rwc", "in/w");
        write_file(P("in/data/f"), "PRECIOUS");

        CHECK_EQ(oh_do_link(pol, P("in/data/f"), P("in/scratch/f"), &v), 0);
        CHECK_EQ(oh_do_rename(pol, P("in/scratch/f"), P("in/w/f"), 0, &v), -EACCES);
        CHECK_EQ(v.denied, 1);
        CHECK(!exists(P("in/w/f")));
        CHECK_EQ(oh_do_link(pol, P("in/scratch/f"), P("in/w/f"), &v), -EACCES);
        CHECK_EQ(oh_do_link(pol, P("in/data/f"), P("in/w/f"), &v), -EACCES);
        CHECK(!exists(P("in/w/f")));
        /* Truncating or writing through a new name needs one to exist. */
        CHECK_EQ(oh_do_truncate(pol, P("in/w/f"), 0, &v), -ENOENT);
        CHECK_EQ(try_open(P("in/w/f"), O_WRONLY | O_TRUNC, 0), -ENOENT);
        CHECK_EQ(try_open(P("in/scratch/f"), O_WRONLY, 0), -EACCES);
        CHECK(has_content(P("in/data/f"), "PRECIOUS"));
        done();
}

/* An exchange moves each name's object to the other name: each must keep
 * its letters, so the two names must grant the same r and w. */
static void exchange_cannot_widen_either_way(void)
{
        scenario("exchange-widen");
        allow_new_dir("rcd", "in/ro");
        allow_new_dir("rwcd", "in/rw");
        allow_new_dir("rwcd", "in/rw2");
        write_file(P("in/ro/f"), "RO");
        write_file(P("in/rw/f"), "RW");
        write_file(P("in/rw2/f"), "RW2");

        CHECK_EQ(oh_do_rename(pol, P("in/ro/f"), P("in/rw/f"), RENAME_EXCHANGE, &v), -EACCES);
        CHECK_EQ(oh_do_rename(pol, P("in/rw/f"), P("in/ro/f"), RENAME_EXCHANGE, &v), -EACCES);
        CHECK(has_content(P("in/ro/f"), "RO") && has_content(P("in/rw/f"), "RW"));
        CHECK_EQ(oh_do_rename(pol, P("in/rw/f"), P("in/rw2/f"), RENAME_EXCHANGE, &v), 0);
        CHECK(has_content(P("in/rw/f"), "RW2") && has_content(P("in/rw2/f"), "RW"));
        done();
}

/* A directory's own letters count too (w lets its mode be changed), not
 * only those of its contents. */
static void renaming_a_directory_cannot_widen_its_own_letters(void)
{
        scenario("rename-dir-own");
        allow("r", "in/");
        allow_new_dir("rcd", "in/s");
        allow("rwc", "in/x");
        CHECK(mkdir(P("in/s/dir"), 0755) == 0);
        CHECK_EQ(oh_do_rename(pol, P("in/s/dir"), P("in/x"), 0, &v), -EACCES);
        CHECK(exists(P("in/s/dir")) && !exists(P("in/x")));
        done();
}

/* EXDEV from the rename itself (another filesystem, or a Landlock domain
 * without REFER) is the kernel's answer, for the peer to copy instead: not
 * a changed tree to walk again until ELOOP. */
static void rename_across_filesystems_is_exdev(void)
{
        char other[] = "/dev/shm/oh-test-resolve-XXXXXX", arg[64];
        struct stat a, b;

        scenario("rename-exdev");
        allow("rwcd", "in/");
        if (stat("/dev/shm", &b) < 0 || stat(P("in"), &a) < 0 || a.st_dev == b.st_dev || !mkdtemp(other)) {
                printf("# no second filesystem at /dev/shm: not tried\n");
                done();
                return;
        }
        snprintf(arg, sizeof(arg), "rwcd:%s/", other);
        CHECK_EQ(openhook_policy_allow_arg(pol, arg, NULL), 0);
        snprintf(arg, sizeof(arg), "%s/f", other);
        CHECK_EQ(oh_do_rename(pol, P("in/file"), arg, 0, &v), -EXDEV);
        CHECK_EQ(oh_do_link(pol, P("in/file"), arg, &v), -EXDEV);
        CHECK(has_content(P("in/file"), "DATA") && !exists(arg));
        rmdir(other);
        done();
}

/* A symlink grants nothing: whatever path leads through it is decided
 * where it leads, so one made where anything may be created cannot write
 * a file that is only readable. */
static void symlink_cannot_grant_what_its_target_lacks(void)
{
        scenario("symlink-widen");
        allow_new_dir("r", "in/data");
        allow_new_dir("rwcd", "in/w");
        write_file(P("in/data/f"), "PRECIOUS");
        CHECK_EQ(oh_do_symlink(pol, "../data/f", P("in/w/l"), &v), 0);
        CHECK_EQ(oh_do_symlink(pol, "../data", P("in/w/dl"), &v), 0);
        CHECK_EQ(try_open(P("in/w/l"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/w/l"), O_WRONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/w/dl/f"), O_RDWR | O_TRUNC, 0), -EACCES);
        CHECK_EQ(oh_do_truncate(pol, P("in/w/l"), 0, &v), -EACCES);
        CHECK_EQ(oh_do_chmod(pol, P("in/w/l"), 0600, 0, &v), -EACCES);
        CHECK_EQ(oh_do_rename(pol, P("in/w/dl/f"), P("in/w/g"), 0, &v), -EACCES);
        CHECK_EQ(oh_do_link(pol, P("in/w/dl/f"), P("in/w/g"), &v), -EACCES);
        CHECK(has_content(P("in/data/f"), "PRECIOUS") && !exists(P("in/w/g")));
        done();
}

static void symlink_needs_c_and_its_target_is_not_checked(void)
{
        scenario("symlink-op");
        allow("r", "in/");
        allow("rc", "in/c/");
        CHECK(mkdir(P("in/c"), 0755) == 0);
        CHECK_EQ(oh_do_symlink(pol, "file", P("in/l"), &v), -EACCES);
        CHECK(!exists(P("in/l")));
        CHECK_EQ(oh_do_symlink(pol, P("out/secret"), P("in/c/l"), &v), 0);
        CHECK(exists(P("in/c/l")));
        /* ...but using it is decided on where it leads. */
        CHECK_EQ(try_open(P("in/c/l"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(oh_do_symlink(pol, "x", P("in/c/l"), &v), -EEXIST);
        CHECK_EQ(oh_do_symlink(pol, "", P("in/c/m"), &v), -ENOENT);
        done();
}

static void link_cannot_widen_access_to_an_inode(void)
{
        struct stat a, b;

        scenario("link-op");
        allow("w", "in/wonly/");
        allow("rc", "in/readable/");
        allow("c", "in/drop/");
        allow("rwc", "in/rw/");
        CHECK(mkdir(P("in/wonly"), 0755) == 0 && mkdir(P("in/readable"), 0755) == 0);
        CHECK(mkdir(P("in/drop"), 0755) == 0 && mkdir(P("in/rw"), 0755) == 0);
        write_file(P("in/wonly/f"), "W");
        write_file(P("in/rw/f"), "RW");

        CHECK_EQ(oh_do_link(pol, P("in/wonly/f"), P("in/readable/f"), &v), -EACCES);  /* would add r */
        CHECK(!exists(P("in/readable/f")));
        CHECK_EQ(oh_do_link(pol, P("out/secret"), P("in/drop/s"), &v), -EACCES);      /* old outside */
        CHECK(!exists(P("in/drop/s")));
        CHECK_EQ(oh_do_link(pol, P("in/wonly/f"), P("in/drop/f"), &v), 0);           /* adds neither */
        CHECK_EQ(oh_do_link(pol, P("in/rw/f"), P("in/readable/f"), &v), 0);
        CHECK(stat(P("in/rw/f"), &a) == 0 && stat(P("in/readable/f"), &b) == 0 && a.st_ino == b.st_ino);
        CHECK_EQ(oh_do_link(pol, P("in/rw/f"), P("in/wonly/g"), &v), -EACCES);        /* no c there */
        CHECK_EQ(oh_do_link(pol, P("in/rw/f"), P("in/readable/f"), &v), -EEXIST);
        done();
}

static void link_does_not_follow_old_symlink(void)
{
        struct stat st;

        scenario("link-nofollow");
        allow("rwc", "in/");
        CHECK(symlink(P("out/secret"), P("in/s")) == 0);
        CHECK_EQ(oh_do_link(pol, P("in/s"), P("in/s2"), &v), 0);
        CHECK(lstat(P("in/s2"), &st) == 0 && S_ISLNK(st.st_mode));
        done();
}

static void truncate_needs_w_and_follows_symlinks(void)
{
        struct stat st;

        scenario("truncate");
        allow("r", "in/");
        allow("rw", "in/w/");
        CHECK(mkdir(P("in/w"), 0755) == 0);
        write_file(P("in/w/f"), "123456");
        CHECK(symlink("f", P("in/w/l")) == 0);
        CHECK_EQ(oh_do_truncate(pol, P("in/file"), 0, &v), -EACCES);
        CHECK(has_content(P("in/file"), "DATA"));
        CHECK_EQ(oh_do_truncate(pol, P("in/w/l"), 2, &v), 0);
        CHECK(has_content(P("in/w/f"), "12"));
        CHECK_EQ(oh_do_truncate(pol, P("in/w/f"), 100, &v), 0);
        CHECK(stat(P("in/w/f"), &st) == 0 && st.st_size == 100);
        CHECK_EQ(oh_do_truncate(pol, P("in/w/missing"), 0, &v), -ENOENT);
        CHECK(!exists(P("in/w/missing")));
        CHECK_EQ(oh_do_truncate(pol, P("in/w/f"), UINT64_MAX, &v), -EINVAL);
        done();
}

/* ---- metadata: chmod and utimens ------------------------------------------ */

static mode_t mode_of(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t) -1;
}

static struct timespec mtime_of(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 ? st.st_mtim : (struct timespec) { -1, -1 };
}

/* in/ is read-only, in/w/ writable; in/w/out is a link to the secret. */
static void metadata_scenario(const char *name)
{
        scenario(name);
        allow("r", "in/");
        allow("rw", "in/w/");
        CHECK(mkdir(P("in/w"), 0755) == 0);
        write_file(P("in/w/f"), "F");
        CHECK(chmod(P("in/w/f"), 0644) == 0);
        CHECK(chmod(P("in/file"), 0644) == 0);
        CHECK(chmod(P("out/secret"), 0644) == 0);
        CHECK(symlink("f", P("in/w/lf")) == 0);
        CHECK(symlink("../../out/secret", P("in/w/out")) == 0);
}

static void chmod_needs_w(void)
{
        metadata_scenario("chmod-w");
        CHECK_EQ(oh_do_chmod(pol, P("in/w/f"), 0600, 0, &v), 0);
        CHECK_EQ(mode_of(P("in/w/f")), 0600);
        CHECK_EQ(oh_do_chmod(pol, P("in/file"), 0600, 0, &v), -EACCES);
        CHECK(v.denied);
        CHECK_EQ(mode_of(P("in/file")), 0644);
        CHECK_EQ(oh_do_chmod(pol, P("out/secret"), 0777, 0, &v), -EACCES);
        CHECK_EQ(mode_of(P("out/secret")), 0644);
        CHECK_EQ(oh_do_chmod(pol, P("in/w/missing"), 0600, 0, &v), -ENOENT);
        CHECK_EQ(oh_do_chmod(pol, P("in/w/f"), 0600, AT_REMOVEDIR, &v), -EINVAL);
        done();
}

static void chmod_strips_setuid_setgid_and_sticky(void)
{
        metadata_scenario("chmod-suid");
        CHECK_EQ(oh_do_chmod(pol, P("in/w/f"), 07755, 0, &v), 0);
        CHECK_EQ(mode_of(P("in/w/f")), 0755);
        done();
}

static void chmod_through_outside_symlink_is_refused(void)
{
        metadata_scenario("chmod-symlink");
        CHECK_EQ(oh_do_chmod(pol, P("in/w/out"), 0777, 0, &v), -EACCES);
        CHECK_EQ(mode_of(P("out/secret")), 0644);
        /* A link inside the policy to a file inside is followed... */
        CHECK_EQ(oh_do_chmod(pol, P("in/w/lf"), 0600, 0, &v), 0);
        CHECK_EQ(mode_of(P("in/w/f")), 0600);
        /* ...unless not following: then the link itself, whose mode Linux
         * cannot change, and never the file it names. */
        CHECK_EQ(oh_do_chmod(pol, P("in/w/out"), 0777, AT_SYMLINK_NOFOLLOW, &v), -EOPNOTSUPP);
        CHECK_EQ(mode_of(P("out/secret")), 0644);
        done();
}

static void utimens_needs_w_and_sets_the_times_asked(void)
{
        const struct timespec ts[2] = { { 1000000000, 5 }, { 1200000000, 7 } };
        struct timespec before;
        struct stat st;

        metadata_scenario("utimens-w");
        CHECK_EQ(oh_do_utimens(pol, P("in/w/f"), ts, 0, &v), 0);
        CHECK(stat(P("in/w/f"), &st) == 0);
        CHECK_EQ(st.st_atim.tv_sec, 1000000000);
        CHECK_EQ(st.st_atim.tv_nsec, 5);
        CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
        CHECK_EQ(st.st_mtim.tv_nsec, 7);

        before = mtime_of(P("in/file"));
        CHECK_EQ(oh_do_utimens(pol, P("in/file"), ts, 0, &v), -EACCES);
        CHECK(v.denied);
        CHECK_EQ(mtime_of(P("in/file")).tv_sec, before.tv_sec);
        before = mtime_of(P("out/secret"));
        CHECK_EQ(oh_do_utimens(pol, P("out/secret"), ts, 0, &v), -EACCES);
        CHECK_EQ(mtime_of(P("out/secret")).tv_sec, before.tv_sec);
        CHECK_EQ(oh_do_utimens(pol, P("in/w/f"), ts, AT_EMPTY_PATH, &v), -EINVAL);
        done();
}

static void utimens_omit_and_now_pass_through(void)
{
        const struct timespec set[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        const struct timespec now_m[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
        struct stat st;

        metadata_scenario("utimens-now");
        CHECK_EQ(oh_do_utimens(pol, P("in/w/f"), set, 0, &v), 0);
        CHECK_EQ(oh_do_utimens(pol, P("in/w/f"), now_m, 0, &v), 0);
        CHECK(stat(P("in/w/f"), &st) == 0);
        CHECK_EQ(st.st_atim.tv_sec, 1000000000);
        CHECK(st.st_mtim.tv_sec > 1000000000);
        done();
}

static void utimens_through_outside_symlink_is_refused(void)
{
        const struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        struct timespec before;

        metadata_scenario("utimens-symlink");
        before = mtime_of(P("out/secret"));
        CHECK_EQ(oh_do_utimens(pol, P("in/w/out"), ts, 0, &v), -EACCES);
        CHECK_EQ(mtime_of(P("out/secret")).tv_sec, before.tv_sec);
        /* Not following changes the link's own times only. */
        CHECK_EQ(oh_do_utimens(pol, P("in/w/out"), ts, AT_SYMLINK_NOFOLLOW, &v), 0);
        CHECK_EQ(mtime_of(P("in/w/out")).tv_sec, 1000000000);
        CHECK_EQ(mtime_of(P("out/secret")).tv_sec, before.tv_sec);
        done();
}

/* ---- a tree that changes under the broker ------------------------------ */

static atomic_bool stop;
static char race_dir[1100], race_swap[1100];

/* Keeps exchanging in/d (a directory) with in/swap (a symlink to out/). */
static void *swapper(void *arg)
{
        (void) arg;
        while (!atomic_load(&stop))
                renameat2(AT_FDCWD, race_dir, AT_FDCWD, race_swap, RENAME_EXCHANGE);
        return NULL;
}

static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* ---- t: private temporaries ---------------------------------------------- */

static void private_dir_gives_what_the_sandbox_made_and_nothing_else(void)
{
        int fd;

        scenario("t-own");
        allow("t", "in/");
        /* another process's file there */
        CHECK_EQ(try_open(P("in/file"), O_RDONLY, 0), -EACCES);
        CHECK(v.denied);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_TRUNC, 0), -EACCES);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY | O_CREAT | O_TRUNC, 0600), -EACCES);
        CHECK_EQ(oh_do_unlink(pol, P("in/file"), &v), -EACCES);
        CHECK_EQ(oh_do_chmod(pol, P("in/file"), 0600, 0, &v), -EACCES);
        CHECK(has_content(P("in/file"), "DATA"));
        /* mkstemp tries another name on EEXIST */
        CHECK_EQ(try_open(P("in/file"), O_RDWR | O_CREAT | O_EXCL, 0600), -EEXIST);
        /* its own, at any name it gives it */
        fd = oh_do_open(pol, P("in/mine"), O_RDWR | O_CREAT | O_EXCL, 0600, &v);
        CHECK(fd >= 0 && write(fd, "MINE", 4) == 4);
        close(fd);
        CHECK_EQ(oh_do_rename(pol, P("in/mine"), P("in/renamed"), 0, &v), 0);
        fd = oh_do_open(pol, P("in/renamed"), O_RDONLY, 0, &v);
        CHECK(fd >= 0 && fd_has_content(fd, "MINE"));
        close(fd);
        CHECK_EQ(try_open(P("in/renamed"), O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
        CHECK_EQ(oh_do_chmod(pol, P("in/renamed"), 0644, 0, &v), 0);
        CHECK_EQ(oh_do_unlink(pol, P("in/renamed"), &v), 0);
        CHECK(!exists(P("in/renamed")));
        /* the directories it made, and what it made in them */
        CHECK_EQ(oh_do_mkdir(pol, P("in/d"), 0700, &v), 0);
        CHECK_EQ(try_open(P("in/d/f"), O_WRONLY | O_CREAT, 0600), 0);
        CHECK_EQ(oh_do_symlink(pol, "f", P("in/d/l"), &v), 0);
        CHECK_EQ(try_open(P("in/d/l"), O_RDONLY, 0), 0);
        CHECK_EQ(oh_do_unlink(pol, P("in/d/l"), &v), 0);
        CHECK_EQ(oh_do_unlink(pol, P("in/d/f"), &v), 0);
        CHECK_EQ(oh_do_rmdir(pol, P("in/d"), &v), 0);
        /* a file without a name, in the t directory */
        CHECK_EQ(try_open(P("in"), O_TMPFILE | O_RDWR, 0600), 0);
        /* never in another's directory there */
        CHECK(mkdir(P("in/theirs"), 0755) == 0);
        CHECK_EQ(try_open(P("in/theirs/f"), O_WRONLY | O_CREAT, 0600), -EACCES);
        CHECK_EQ(oh_do_mkdir(pol, P("in/theirs/d"), 0700, &v), -EACCES);
        CHECK_EQ(try_open(P("in/theirs"), O_TMPFILE | O_RDWR, 0600), -EACCES);
        CHECK(!exists(P("in/theirs/f")) && !exists(P("in/theirs/d")));
        done();
}

static void private_name_another_reused_or_planted_is_not_the_sandboxs(void)
{
        scenario("t-planted");
        allow("t", "in/");
        /* deleted and made again by another process under the same name */
        CHECK_EQ(try_open(P("in/a"), O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
        CHECK(unlink(P("in/a")) == 0);
        write_file(P("in/a"), "THEIRS");
        CHECK_EQ(try_open(P("in/a"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/a"), O_WRONLY | O_CREAT | O_TRUNC, 0600), -EACCES);
        CHECK_EQ(oh_do_unlink(pol, P("in/a"), &v), -EACCES);
        CHECK(has_content(P("in/a"), "THEIRS"));
        /* another's file renamed over the sandbox's name */
        CHECK_EQ(try_open(P("in/b"), O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
        write_file(P("in/c"), "THEIRS");
        CHECK(rename(P("in/c"), P("in/b")) == 0);
        CHECK_EQ(try_open(P("in/b"), O_RDONLY, 0), -EACCES);
        /* a hard link or a symlink planted to another's file */
        CHECK(link(P("in/file"), P("in/hard")) == 0);
        CHECK_EQ(try_open(P("in/hard"), O_RDONLY, 0), -EACCES);
        CHECK(symlink(P("in/file"), P("in/sym")) == 0);
        CHECK_EQ(try_open(P("in/sym"), O_RDONLY, 0), -EACCES);
        CHECK(symlink(P("out/secret"), P("in/out")) == 0);
        CHECK_EQ(try_open(P("in/out"), O_RDONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/out"), O_WRONLY | O_CREAT, 0600), -EACCES);
        CHECK_EQ(oh_do_unlink(pol, P("in/sym"), &v), -EACCES);
        CHECK(exists(P("in/sym")) && has_content(P("out/secret"), "SECRET"));
        /* nor does the sandbox get a name of its own for another's file */
        CHECK_EQ(oh_do_link(pol, P("in/file"), P("in/mylink"), &v), -EACCES);
        CHECK_EQ(oh_do_rename(pol, P("in/file"), P("in/moved"), 0, &v), -EACCES);
        /* or replace it with its own */
        CHECK_EQ(try_open(P("in/own"), O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
        CHECK_EQ(oh_do_rename(pol, P("in/own"), P("in/file"), 0, &v), -EACCES);
        CHECK(has_content(P("in/file"), "DATA"));
        /* a file the sandbox moves in from elsewhere is not its own */
        allow("rwcd", "out/");
        CHECK_EQ(oh_do_rename(pol, P("out/secret"), P("in/s"), 0, &v), 0);
        CHECK_EQ(try_open(P("in/s"), O_RDONLY, 0), -EACCES);
        done();
}

/* A more specific rule decides, as everywhere; the rules' own letters
 * hold in a t directory too. */
static void private_dir_composes_with_other_rules(void)
{
        scenario("t-compose");
        allow("rt", "in/");
        allow("rw", "in/shared/");
        CHECK(mkdir(P("in/shared"), 0755) == 0);
        write_file(P("in/shared/x"), "X");
        CHECK_EQ(try_open(P("in/file"), O_RDONLY, 0), 0);
        CHECK_EQ(try_open(P("in/file"), O_WRONLY, 0), -EACCES);
        CHECK_EQ(try_open(P("in/shared/x"), O_WRONLY, 0), 0);
        CHECK_EQ(try_open(P("in/shared/new"), O_WRONLY | O_CREAT, 0600), -EACCES);
        done();
}

/* Identity is device, inode and birth time, so a reused inode number is
 * another object; the record is dropped with the sandbox's last name. */
static void private_record_is_by_identity_and_dropped_with_the_last_name(void)
{
        struct oh_object o, other;

        scenario("t-record");
        allow("t", "in/");
        CHECK_EQ(try_open(P("in/a"), O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
        CHECK_EQ(oh_object_at(AT_FDCWD, P("in/a"), &o), 0);
        CHECK(oh_created_has(oh_policy_created(pol), &o));
        other = o;
        other.btime_nsec ^= 1;
        CHECK(!oh_created_has(oh_policy_created(pol), &other));
        CHECK_EQ(oh_do_unlink(pol, P("in/a"), &v), 0);
        CHECK(!oh_created_has(oh_policy_created(pol), &o));
        done();
}

static void swapping_directory_for_outside_symlink_never_escapes(void)
{
        char dpath[1100], newpath[1200];
        pthread_t t;
        int opened = 0, refused = 0, escaped = 0;

        scenario("race");
        allow("rwcd", "in/");
        CHECK(mkdir(P("in/d"), 0755) == 0);
        write_file(P("in/d/f"), "INSIDE");
        write_file(P("out/f"), "OUTSIDE");
        CHECK(symlink("../out", P("in/swap")) == 0);
        snprintf(dpath, sizeof(dpath), "%s", P("in/d/f"));
        snprintf(race_dir, sizeof(race_dir), "%s", P("in/d"));
        snprintf(race_swap, sizeof(race_swap), "%s", P("in/swap"));

        atomic_store(&stop, false);
        CHECK(pthread_create(&t, NULL, swapper, NULL) == 0);
        for (int i = 0; i < 4000; i++) {
                int fd = oh_do_open(pol, dpath, O_RDONLY, 0, &v);

                if (fd >= 0) {
                        opened++;
                        if (!fd_has_content(fd, "INSIDE"))
                                escaped++;
                        close(fd);
                } else
                        refused++;
                snprintf(newpath, sizeof(newpath), "%s/n%d", race_dir, i);
                fd = oh_do_open(pol, newpath, O_WRONLY | O_CREAT | O_EXCL, 0644, &v);
                if (fd >= 0)
                        close(fd);
                snprintf(newpath, sizeof(newpath), "%s/m%d", race_dir, i);
                oh_do_mkdir(pol, newpath, 0755, &v);
                snprintf(newpath, sizeof(newpath), "%s/f", race_dir);
                oh_do_truncate(pol, newpath, 6, &v);
        }
        atomic_store(&stop, true);
        pthread_join(t, NULL);

        CHECK_EQ(escaped, 0);
        CHECK_EQ(count_entries(P("out")), 2);   /* secret and f: nothing created */
        CHECK(has_content(P("out/f"), "OUTSIDE"));
        printf("# race: %d opened inside, %d refused or lost the race\n", opened, refused);
        CHECK(opened + refused == 4000);
        done();
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "/tmp/oh-test-resolve-XXXXXX");
        if (!mkdtemp(tmp))
                return 1;
        umask(022);

        RUN(file_inside_policy_opens_with_its_content);
        RUN(file_outside_policy_is_refused_with_a_hint);
        RUN(dotdot_escape_is_refused);
        RUN(dotdot_inside_policy_is_followed);
        RUN(symlinks_inside_policy_are_followed);
        RUN(symlinks_to_outside_are_refused);
        RUN(rule_naming_a_symlink_does_not_grant_its_target);
        RUN(symlink_planted_outside_pointing_inside_is_refused);
        RUN(symlink_named_by_a_rule_is_followed);
        RUN(symlink_loop_inside_policy_is_eloop);
        RUN(walk_work_is_bounded_per_request);
        RUN(walk_budget_counts_spliced_components);
        RUN(proc_self_root_magic_link_cannot_escape);
        RUN(proc_self_fd_magic_link_cannot_escape);
        RUN(symlink_to_proc_self_is_refused);
        RUN(broker_proc_entries_are_refused_however_named);
        RUN(broker_proc_entries_are_refused_to_every_operation);
        RUN(other_process_proc_entries_are_served);
        RUN(existence_outside_policy_is_not_revealed);
        RUN(exact_file_rule_reveals_nothing_beside_it);
        RUN(create_through_outside_symlink_is_refused);
        RUN(dangling_symlink_inside_creates_its_target);
        RUN(truncate_flag_without_w_leaves_content_intact);
        RUN(create_without_w_cannot_open_existing_file_for_writing);
        RUN(write_without_c_cannot_create);
        RUN(excl_create_does_not_follow_a_symlink);
        RUN(create_mode_loses_setuid_setgid_and_sticky);
        RUN(fifo_open_never_hangs);
        RUN(o_path_needs_r);
        RUN(o_nofollow_is_honoured);
        RUN(o_directory_is_passed_through);
        RUN(o_tmpfile_needs_c_and_w);
        RUN(unknown_flag_bits_are_invalid);
        RUN(deny_inside_allow_is_refused_with_its_origin);
        RUN(mkdir_needs_c);
        RUN(unlink_and_rmdir_need_d_and_do_not_follow);
        RUN(rename_needs_d_on_old_and_c_on_new);
        RUN(renaming_a_directory_above_a_rule_is_refused);
        RUN(renaming_a_directory_cannot_widen_access_to_its_contents);
        RUN(renaming_a_file_cannot_give_it_letters);
        RUN(link_then_rename_cannot_write_a_read_only_file);
        RUN(exchange_cannot_widen_either_way);
        RUN(renaming_a_directory_cannot_widen_its_own_letters);
        RUN(symlink_cannot_grant_what_its_target_lacks);
        RUN(rename_across_filesystems_is_exdev);
        RUN(symlink_needs_c_and_its_target_is_not_checked);
        RUN(link_cannot_widen_access_to_an_inode);
        RUN(link_does_not_follow_old_symlink);
        RUN(truncate_needs_w_and_follows_symlinks);
        RUN(chmod_needs_w);
        RUN(chmod_strips_setuid_setgid_and_sticky);
        RUN(chmod_through_outside_symlink_is_refused);
        RUN(utimens_needs_w_and_sets_the_times_asked);
        RUN(utimens_omit_and_now_pass_through);
        RUN(utimens_through_outside_symlink_is_refused);
        RUN(swapping_directory_for_outside_symlink_never_escapes);
        RUN(private_dir_gives_what_the_sandbox_made_and_nothing_else);
        RUN(private_name_another_reused_or_planted_is_not_the_sandboxs);
        RUN(private_dir_composes_with_other_rules);
        RUN(private_record_is_by_identity_and_dropped_with_the_last_name);

        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
                if (system(cmd) != 0)
                        printf("# could not remove %s\n", tmp);
        }
        return TAP_DONE();
}

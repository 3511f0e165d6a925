/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp supervisor against real children: each scenario forks a
 * child that installs the filter exactly as `openhook run --mode seccomp`
 * does, hands the listener over a socket, and then makes raw syscalls;
 * this process supervises it with the real policy engine until the child
 * tree is gone.  The child reports failed expectations as TAP comments and
 * through its exit status. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "landlock.h"
#include "confine.h"
#include "openhook.h"
#include "seccomp_broker.h"
#include "seccomp_notify.h"
#include "seccomp_prebuilt.h"
#include "tap.h"
#include "util.h"

static char root[128];           /* the scenario tree, /tmp/oh-seccomp-XXXXXX */
static int child_failures;
static struct oh_ll_rule child_landlock[1];     /* as openhook run's direct set */
static size_t child_landlock_n;

/* In the child: count a failed expectation and say which. */
#define EXPECT(cond) do { \
        if (!(cond)) { \
                printf("#   child %s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
                fflush(stdout); \
                child_failures++; \
        } \
} while (0)

static char *at(const char *rel)
{
        static char buf[4][512];
        static int i;

        i = (i + 1) % 4;
        snprintf(buf[i], sizeof buf[i], "%s/%s", root, rel);
        return buf[i];
}

static void write_file(const char *path, const char *content)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
                abort();
        close(fd);
}

static int read_fd(int fd, char *buf, size_t size)
{
        ssize_t n = pread(fd, buf, size - 1, 0);

        if (n < 0)
                return -1;
        buf[n] = '\0';
        return (int)n;
}

static bool file_is(const char *path, const char *content)
{
        char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool same = fd >= 0 && read_fd(fd, buf, sizeof buf) >= 0 && strcmp(buf, content) == 0;

        if (fd >= 0)
                close(fd);
        return same;
}

/* Raw syscalls, so that neither libc nor a preload could be what worked. */
static long sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        long r = syscall(SYS_openat, dirfd, path, flags, mode);

        return r < 0 ? -errno : r;
}

static long sys_result(long r)
{
        return r < 0 ? -errno : r;
}

struct decisions {
        int count;
        int denied;
        char last_path[512];
};

static void record(const struct openhook_decision *d, void *userdata)
{
        struct decisions *ds = userdata;

        ds->count++;
        ds->denied += d->denied != 0;
        snprintf(ds->last_path, sizeof ds->last_path, "%s", d->path ? d->path : "");
}

/* The child hands its own listener over: its sendmsg() is notified from
 * the moment the filter is in, so it writes the number, and the parent
 * takes a copy with pidfd_getfd() and says so before the child closes
 * its own and calls anything notified. */
static int hand_over_own_listener(int sock, int listener)
{
        char taken;

        if (write(sock, &listener, sizeof listener) != sizeof listener)
                return -errno;
        return read(sock, &taken, 1) == 1 ? 0 : -EPIPE;
}

static int take_listener(int sock, pid_t pid)
{
        int n, fd = -1;

        if (read(sock, &n, sizeof n) != sizeof n)
                return -EPIPE;
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0) {
                fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
                close(pidfd);
        }
        if (fd < 0)
                return -errno;
        if (write(sock, "", 1) != 1) {
                close(fd);
                return -EPIPE;
        }
        return fd;
}

/* Forks FN as a confined child and supervises it.  Returns the child's
 * exit status (128 + N if killed by signal N) or -errno. */
static int run_confined(const struct openhook_policy *policy, int (*fn)(void *), void *arg, struct decisions *ds)
{
        int sv[2], status, r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (child_landlock_n > 0 && oh_landlock_apply(child_landlock, child_landlock_n, 0) < 0)
                        _exit(97);
                int listener = oh_seccomp_install(OH_SECCOMP_OPENS);

                if (listener < 0) {
                        printf("#   oh_seccomp_install: %s\n", strerror(-listener));
                        _exit(99);
                }
                if (hand_over_own_listener(sv[1], listener) < 0)
                        _exit(98);
                close(listener);
                close(sv[1]);
                child_failures = 0;
                r = fn(arg);
                fflush(stdout);
                _exit(r ? r : child_failures > 0);
        }
        close(sv[1]);
        int listener = take_listener(sv[0], pid);
        close(sv[0]);
        if (listener > 0) {
                struct oh_supervise_args args = {
                        .listener = listener, .connector = -1, .policy = policy,
                        .flags = OH_SECCOMP_OPENS, .log = record, .userdata = ds,
                };
                r = oh_seccomp_supervise(&args);
                close(listener);
                if (r < 0)
                        printf("#   oh_seccomp_supervise: %s\n", strerror(-r));
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static struct openhook_policy *policy_of(const char *perms, const char *rel)
{
        struct openhook_policy *p = NULL;
        char *error = NULL;

        if (openhook_policy_new(&p) < 0)
                abort();
        if (perms && openhook_policy_allow(p, perms, at(rel), &error) < 0) {
                printf("#   policy: %s\n", error ? error : "?");
                abort();
        }
        return p;
}

static void allow(struct openhook_policy *p, const char *perms, const char *path)
{
        char *error = NULL;

        if (openhook_policy_allow(p, perms, path, &error) < 0) {
                printf("#   policy: %s\n", error ? error : "?");
                abort();
        }
}

/* ---- Scenarios --------------------------------------------------------- */

static int prog_open_allowed_and_refused(void *arg)
{
        char buf[64];
        long fd = sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY | O_CLOEXEC, 0);

        EXPECT(fd >= 0);
        if (fd >= 0) {
                EXPECT(read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "allowed\n") == 0);
                EXPECT(fcntl((int)fd, F_GETFD) == FD_CLOEXEC);
                close((int)fd);
        }
        EXPECT(sys_openat(AT_FDCWD, at("secret"), O_RDONLY, 0) == -EACCES);
        EXPECT(sys_openat(AT_FDCWD, at("pub/missing"), O_RDONLY, 0) == -ENOENT);
        fd = sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY, 0);
        EXPECT(fd >= 0 && fcntl((int)fd, F_GETFD) == 0);
        return 0;
}

static void open_of_allowed_file_is_brokered_and_outside_refused(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_open_allowed_and_refused, NULL, &ds), 0);
        CHECK_EQ(ds.count, 4);
        CHECK_EQ(ds.denied, 1);
        openhook_policy_free(p);
}

static int prog_relative(void *arg)
{
        char buf[64];
        long dirfd = sys_openat(AT_FDCWD, at("pub"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        long fd;

        EXPECT(dirfd >= 0);
        fd = sys_openat((int)dirfd, "allowed", O_RDONLY | O_CLOEXEC, 0);
        EXPECT(fd >= 0 && read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "allowed\n") == 0);
        EXPECT(sys_openat((int)dirfd, "../secret", O_RDONLY, 0) == -EACCES);
        EXPECT(sys_openat(12345, "allowed", O_RDONLY, 0) == -EBADF);
        EXPECT(sys_openat((int)fd, "x", O_RDONLY, 0) == -ENOTDIR);
        EXPECT(chdir(at("pub")) == 0);
        close((int)fd);
        fd = sys_openat(AT_FDCWD, "./allowed", O_RDONLY | O_CLOEXEC, 0);
        EXPECT(fd >= 0 && read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "allowed\n") == 0);
        EXPECT(sys_result(syscall(SYS_open, "../secret", O_RDONLY)) == -EACCES);
        return 0;
}

static void relative_paths_resolve_against_dirfd_and_cwd(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_relative, NULL, &ds), 0);
        /* The log names the path as the program asked for it. */
        CHECK_STREQ(ds.last_path, at("pub/../secret"));
        openhook_policy_free(p);
}

static int prog_modify(void *arg)
{
        struct stat st;
        long fd;

        umask(027);
        fd = sys_openat(AT_FDCWD, at("rw/new"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        EXPECT(fd >= 0 && write((int)fd, "hello", 5) == 5);
        EXPECT(stat(at("rw/new"), &st) == 0 && (st.st_mode & 0777) == 0640);
        EXPECT(sys_result(syscall(SYS_mkdir, at("rw/d"), 0777)) == 0);
        EXPECT(stat(at("rw/d"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750);
        EXPECT(sys_result(syscall(SYS_rename, at("rw/new"), at("rw/d/moved"))) == 0);
        EXPECT(sys_result(syscall(SYS_symlink, "moved", at("rw/d/link"))) == 0);
        EXPECT(sys_result(syscall(SYS_link, at("rw/d/moved"), at("rw/hard"))) == 0);
        EXPECT(sys_result(syscall(SYS_truncate, at("rw/hard"), 2L)) == 0);
        EXPECT(sys_result(syscall(SYS_unlink, at("rw/d/link"))) == 0);
        EXPECT(sys_result(syscall(SYS_unlinkat, AT_FDCWD, at("rw/d/moved"), 0)) == 0);
        EXPECT(sys_result(syscall(SYS_rmdir, at("rw/d"))) == 0);
        EXPECT(sys_result(syscall(SYS_mknod, at("rw/node"), S_IFREG | 0600, 0)) == 0);
        EXPECT(sys_result(syscall(SYS_mknod, at("rw/fifo"), S_IFIFO | 0600, 0)) == -EPERM);
        /* Outside the policy, nothing happens. */
        EXPECT(sys_result(syscall(SYS_mkdir, at("outdir"), 0777)) == -EACCES);
        EXPECT(sys_result(syscall(SYS_unlink, at("secret"))) == -EACCES);
        EXPECT(sys_result(syscall(SYS_truncate, at("secret"), 0L)) == -EACCES);
        EXPECT(sys_result(syscall(SYS_rename, at("secret"), at("rw/stolen"))) == -EACCES);
        EXPECT(sys_result(syscall(SYS_creat, at("created"), 0600)) == -EACCES);
        EXPECT(sys_result(syscall(SYS_symlinkat, "/etc/passwd", AT_FDCWD, at("link"))) == -EACCES);
        return 0;
}

static void file_operations_follow_the_policy(void)
{
        struct openhook_policy *p = policy_of("rwcd", "rw/");
        struct decisions ds = {};
        struct stat st;

        CHECK_EQ(run_confined(p, prog_modify, NULL, &ds), 0);
        CHECK(stat(at("rw/hard"), &st) == 0 && st.st_size == 2);
        CHECK(stat(at("rw/node"), &st) == 0 && S_ISREG(st.st_mode));
        CHECK(file_is(at("secret"), "secret\n"));
        CHECK(stat(at("outdir"), &st) < 0 && errno == ENOENT);
        CHECK(stat(at("created"), &st) < 0 && errno == ENOENT);
        CHECK(lstat(at("link"), &st) < 0 && errno == ENOENT);
        CHECK(stat(at("rw/stolen"), &st) < 0 && errno == ENOENT);
        unlink(at("rw/hard"));
        unlink(at("rw/node"));
        openhook_policy_free(p);
}

static int prog_proc_self(void *arg)
{
        char buf[4096], want[64];
        long fd = sys_openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0);

        snprintf(want, sizeof want, "\nPid:\t%d\n", (int)getpid());
        EXPECT(fd >= 0 && read_fd((int)fd, buf, sizeof buf) > 0 && strstr(buf, want));
        fd = sys_openat(AT_FDCWD, "/proc/thread-self/comm", O_RDONLY | O_CLOEXEC, 0);
        EXPECT(fd >= 0);
        return 0;
}

static void proc_self_means_the_program(void)
{
        struct openhook_policy *p = policy_of(NULL, NULL);
        struct decisions ds = {};

        allow(p, "r", "/proc/");
        CHECK_EQ(run_confined(p, prog_proc_self, NULL, &ds), 0);
        openhook_policy_free(p);
}

static int prog_bad_arguments(void *arg)
{
        char *big = malloc(8192);

        memset(big, 'a', 8191);
        big[0] = '/';
        big[8191] = '\0';
        EXPECT(sys_openat(AT_FDCWD, (const char *)8, O_RDONLY, 0) == -EFAULT);
        EXPECT(sys_openat(AT_FDCWD, big, O_RDONLY, 0) == -ENAMETOOLONG);
        EXPECT(sys_openat(AT_FDCWD, "", O_RDONLY, 0) == -ENOENT);
        free(big);
        return 0;
}

static void unreadable_and_oversized_paths_fail_like_the_kernel(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_bad_arguments, NULL, &ds), 0);
        CHECK_EQ(ds.count, 0);
        openhook_policy_free(p);
}

#if defined(__x86_64__)
/* int $0x80 from a 64-bit process is an i386 syscall: other numbers, other
 * argument registers, same files. */
static long i386_syscall3(long nr, long a, long b, long c)
{
        long r;

        __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
        return r;
}

static int prog_i386(void *arg)
{
        char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        char buf[64];
        long fd;

        EXPECT(low != MAP_FAILED);
        snprintf(low, 4096, "%s", at("pub/allowed"));
        fd = i386_syscall3(5 /* i386 open */, (long)low, O_RDONLY, 0);
        EXPECT(fd >= 0 && read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "allowed\n") == 0);
        snprintf(low, 4096, "%s", at("secret"));
        EXPECT(i386_syscall3(5, (long)low, O_RDONLY, 0) == -EACCES);
        EXPECT(i386_syscall3(39 /* i386 mkdir */, (long)low, 0700, 0) == -EACCES);
        return 0;
}

/* Whether this kernel runs i386 syscalls at all: without IA32 emulation
 * (CONFIG_IA32_EMULATION off, or ia32_emulation=0 on the command line)
 * int $0x80 kills the process with SIGSEGV.  Tried in a forked child. */
static bool have_ia32_emulation(void)
{
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0) {
                /* Die quietly: no sanitizer's SEGV report, no core file. */
                struct rlimit no_core = { 0, 0 };

                signal(SIGSEGV, SIG_DFL);
                setrlimit(RLIMIT_CORE, &no_core);
                _exit(i386_syscall3(20 /* i386 getpid */, 0, 0, 0) == getpid() ? 0 : 1);
        }
        if (waitpid(pid, &status, 0) != pid)
                return false;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void i386_syscalls_are_brokered_too(void)
{
        struct openhook_policy *p;
        struct decisions ds = {};

        if (!have_ia32_emulation()) {
                SKIP("this kernel has no IA32 emulation (int $0x80 is fatal): no i386 syscall to broker");
                return;
        }
        p = policy_of("r", "pub/");
        CHECK_EQ(run_confined(p, prog_i386, NULL, &ds), 0);
        CHECK_EQ(ds.count, 3);
        openhook_policy_free(p);
}
#endif

#define THREADS 8
#define OPENS 300

static void *opener(void *arg)
{
        long bad = 0;

        for (int i = 0; i < OPENS; i++) {
                char name[32], path[256], buf[64], want[64];
                long fd;

                /* at() is not thread-safe: build the path here. */
                snprintf(name, sizeof name, "many/f%d", (int)((long)arg * OPENS + i) % 64);
                snprintf(want, sizeof want, "%s\n", name);
                snprintf(path, sizeof path, "%s/%s", root, name);
                fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0 || read_fd((int)fd, buf, sizeof buf) < 0 || strcmp(buf, want) != 0)
                        bad++;
                if (fd >= 0)
                        close((int)fd);
        }
        return (void *)bad;
}

static int prog_threads(void *arg)
{
        pthread_t t[THREADS];
        long bad = 0;

        for (long i = 0; i < THREADS; i++)
                EXPECT(pthread_create(&t[i], NULL, opener, (void *)i) == 0);
        for (int i = 0; i < THREADS; i++) {
                void *b;

                pthread_join(t[i], &b);
                bad += (long)b;
        }
        EXPECT(bad == 0);
        return 0;
}

/* Every thread gets the fd of the file it named, never another's. */
static void concurrent_threads_each_get_their_own_file(void)
{
        struct openhook_policy *p = policy_of("r", "many/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_threads, NULL, &ds), 0);
        CHECK_EQ(ds.count, THREADS * OPENS);
        openhook_policy_free(p);
}

static int prog_fork_and_exit(void *arg)
{
        pid_t pid = fork();

        if (pid == 0) {
                /* Outlives its parent: supervision must go on for it. */
                usleep(200 * 1000);
                long fd = sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY, 0);
                int out = open(at("pub/../rw/grandchild"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

                _exit(fd >= 0 && out >= 0 ? 0 : 1);
        }
        pid = vfork();
        if (pid == 0)
                _exit(sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY, 0) >= 0 ? 0 : 1);
        int status;
        EXPECT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return 0;
}

static void forked_children_stay_supervised_until_the_last_exits(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};
        struct stat st;

        allow(p, "rwc", at("rw/"));
        CHECK_EQ(run_confined(p, prog_fork_and_exit, NULL, &ds), 0);
        /* supervise returned only after the grandchild was done. */
        CHECK(stat(at("rw/grandchild"), &st) == 0);
        CHECK_EQ(ds.count, 3);
        unlink(at("rw/grandchild"));
        openhook_policy_free(p);
}

static int count_open_fds(void)
{
        int n = 0;

        for (int fd = 0; fd < 1024; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

static void on_alarm(int sig)
{
}

static int prog_signals(void *arg)
{
        struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
        struct itimerval it = { { 0, 200 }, { 0, 200 } };
        int ok = 0, eintr = 0, wrong = 0, open_before = count_open_fds();

        sigaction(SIGALRM, &sa, NULL);
        setitimer(ITIMER_REAL, &it, NULL);
        for (int i = 0; i < 3000; i++) {
                char buf[64];
                long fd = sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY | O_CLOEXEC, 0);

                if (fd == -EINTR) {
                        eintr++;
                        continue;
                }
                if (fd < 0 || read_fd((int)fd, buf, sizeof buf) < 0 || strcmp(buf, "allowed\n") != 0)
                        wrong++;
                else
                        ok++;
                if (fd >= 0)
                        close((int)fd);
        }
        it = (struct itimerval) {};
        setitimer(ITIMER_REAL, &it, NULL);
        printf("#   %d opens, %d interrupted before the supervisor saw them\n", ok, eintr);
        EXPECT(wrong == 0);
        EXPECT(ok > 0);
        /* No fd was installed behind the program's back. */
        EXPECT(count_open_fds() == open_before);
        return 0;
}

static void signals_never_yield_a_wrong_or_leaked_fd(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_signals, NULL, &ds), 0);
        openhook_policy_free(p);
}

static int prog_killed_mid_request(void *arg)
{
        pthread_t t[4];

        for (long i = 0; i < 4; i++)
                pthread_create(&t[i], NULL, opener, (void *)i);
        usleep(20 * 1000);
        kill(getpid(), SIGKILL);
        return 0;
}

static void program_killed_mid_request_leaves_the_supervisor_healthy(void)
{
        struct openhook_policy *p = policy_of("r", "many/");
        struct decisions ds = {};

        for (int i = 0; i < 5; i++)
                CHECK_EQ(run_confined(p, prog_killed_mid_request, NULL, &ds), 128 + SIGKILL);
        /* The same process supervises the next program normally. */
        CHECK_EQ(run_confined(p, prog_threads, NULL, &ds), 0);
        openhook_policy_free(p);
}

static int prog_direct(void *arg)
{
        char buf[64];
        long fd = sys_openat(AT_FDCWD, at("direct/lib"), O_RDONLY | O_CLOEXEC, 0);

        EXPECT(fd >= 0 && read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "lib\n") == 0);
        /* The policy has no rule for writing it, and then the kernel
         * decides: Landlock grants only reading. */
        EXPECT(sys_openat(AT_FDCWD, at("direct/lib"), O_WRONLY, 0) == -EACCES);
        /* ".." is not taken at face value. */
        EXPECT(sys_openat(AT_FDCWD, at("direct/../secret"), O_RDONLY, 0) == -EACCES);
        return 0;
}

static void direct_set_reads_go_to_the_kernel(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        setenv("OPENHOOK_DIRECT", at("direct/"), 1);
        static char direct[256];

        snprintf(direct, sizeof direct, "%s/direct", root);
        child_landlock[0] = (struct oh_ll_rule) { .path = direct, .access = OH_LL_READ };
        child_landlock_n = 1;
        CHECK_EQ(run_confined(p, prog_direct, NULL, &ds), 0);
        child_landlock_n = 0;
        unsetenv("OPENHOOK_DIRECT");
        /* Only the ".." open was the policy's decision. */
        CHECK_EQ(ds.count, 1);
        CHECK(file_is(at("direct/lib"), "lib\n"));
        openhook_policy_free(p);
}

static int prog_own_fds(void *arg)
{
        char buf[64], name[64];
        int pipefd[2];
        long fd, secret = open(at("secret"), O_RDONLY | O_CLOEXEC);   /* refused: -1 */
        long allowed = sys_openat(AT_FDCWD, at("pub/allowed"), O_RDONLY | O_CLOEXEC, 0);

        EXPECT(secret == -1 && allowed >= 0);
        /* A pipe has no path: the program gets its own pipe back. */
        EXPECT(pipe2(pipefd, O_CLOEXEC) == 0 && write(pipefd[1], "piped", 5) == 5);
        snprintf(name, sizeof name, "/proc/self/fd/%d", pipefd[0]);
        fd = sys_openat(AT_FDCWD, name, O_RDONLY, 0);
        EXPECT(fd >= 0 && read((int)fd, buf, sizeof buf) == 5 && memcmp(buf, "piped", 5) == 0);
        snprintf(name, sizeof name, "/dev/fd/%d", pipefd[0]);
        EXPECT(sys_openat(AT_FDCWD, name, O_WRONLY, 0) == -EACCES);
        /* A file is reopened by its path, which the policy judges. */
        snprintf(name, sizeof name, "/dev/fd/%ld", allowed);
        fd = sys_openat(AT_FDCWD, name, O_RDONLY, 0);
        EXPECT(fd >= 0 && fd != allowed && read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "allowed\n") == 0);
        EXPECT(sys_openat(AT_FDCWD, "/dev/fd/999", O_RDONLY, 0) == -ENOENT);
        /* Holding an fd from outside the policy does not make its name
         * reopenable. */
        snprintf(name, sizeof name, "/proc/self/fd/%ld", (long)arg);
        EXPECT(sys_openat(AT_FDCWD, name, O_RDONLY, 0) == -EACCES);
        return 0;
}

static void own_fds_by_name_are_the_program_s_own(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};
        int secret = open(at("secret"), O_RDONLY | O_CLOEXEC);

        CHECK(secret >= 0);
        CHECK_EQ(run_confined(p, prog_own_fds, (void *)(long)secret, &ds), 0);
        close(secret);
        openhook_policy_free(p);
}

/* openat2's flags live in memory the program can rewrite once the
 * supervisor has read them. */
struct how_race {
        struct open_how how;
        char path[512];
        const char *allowed, *secret;
        volatile bool stop;
};

static void *flip_how(void *arg)
{
        struct how_race *h = arg;

        while (!h->stop) {
                h->how.flags = O_PATH;
                strcpy(h->path, h->allowed);
                h->how.flags = O_RDONLY;
                strcpy(h->path, h->secret);
        }
        return NULL;
}

static int prog_openat2_o_path(void *arg)
{
        struct open_how how = { .flags = O_PATH };
        static struct how_race h;
        char buf[64];
        pthread_t t;

        EXPECT(sys_result(syscall(SYS_openat2, AT_FDCWD, at("pub/allowed"), &how, sizeof how)) == -ENOSYS);
        h.allowed = at("pub/allowed");
        h.secret = at("secret");
        EXPECT(pthread_create(&t, NULL, flip_how, &h) == 0);
        for (int i = 0; i < 3000; i++) {
                long fd = syscall(SYS_openat2, AT_FDCWD, h.path, &h.how, sizeof h.how);

                if (fd < 0)
                        continue;
                EXPECT(!(read_fd((int)fd, buf, sizeof buf) > 0 && strcmp(buf, "secret\n") == 0));
                close((int)fd);
        }
        h.stop = true;
        pthread_join(t, NULL);
        return 0;
}

static void openat2_o_path_cannot_be_turned_into_a_read_of_a_denied_file(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_openat2_o_path, NULL, &ds), 0);
        openhook_policy_free(p);
}

static int prog_reopen_o_path(void *arg)
{
        char name[64];

        snprintf(name, sizeof name, "/proc/self/fd/%ld", (long)arg);
        EXPECT(sys_openat(AT_FDCWD, name, O_RDONLY, 0) == -EACCES);
        EXPECT(sys_openat(AT_FDCWD, name, O_WRONLY, 0) == -EACCES);
        return 0;
}

static void an_inherited_o_path_fd_is_no_key_to_its_device(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};
        int fd = open("/dev/null", O_PATH);

        CHECK(fd >= 0);
        CHECK_EQ(run_confined(p, prog_reopen_o_path, (void *)(long)fd, &ds), 0);
        close(fd);
        openhook_policy_free(p);
}

struct unshared {
        int fd;                 /* the pipe's read end, in the thread's table */
        int leader_fd;          /* the same number, in the leader's table */
        bool ok;
};

static void *unshared_thread(void *arg)
{
        struct unshared *u = arg;
        char buf[64], name[96];
        int pipefd[2];
        long fd;

        if (unshare(CLONE_FILES) < 0 || pipe(pipefd) < 0 || write(pipefd[1], "thread", 6) != 6 ||
            dup2(pipefd[0], u->leader_fd) < 0)
                return NULL;
        /* /proc/thread-self/fd is this thread's table ... */
        snprintf(name, sizeof name, "/proc/thread-self/fd/%d", u->leader_fd);
        fd = sys_openat(AT_FDCWD, name, O_RDONLY, 0);
        u->ok = fd >= 0 && read((int)fd, buf, sizeof buf) == 6 && memcmp(buf, "thread", 6) == 0;
        /* ... and /proc/self/fd the leader's, as the kernel has it. */
        snprintf(name, sizeof name, "/proc/self/fd/%d", u->leader_fd);
        fd = sys_openat(AT_FDCWD, name, O_RDONLY, 0);
        u->ok = u->ok && fd >= 0 && read((int)fd, buf, sizeof buf) == 6 && memcmp(buf, "leader", 6) == 0;
        return NULL;
}

static int prog_unshared_files(void *arg)
{
        struct unshared u = {};
        int pipefd[2];
        pthread_t t;

        EXPECT(pipe(pipefd) == 0 && write(pipefd[1], "leader", 6) == 6);
        u.leader_fd = pipefd[0];
        EXPECT(pthread_create(&t, NULL, unshared_thread, &u) == 0);
        pthread_join(t, NULL);
        EXPECT(u.ok);
        return 0;
}

static void a_thread_with_its_own_fd_table_gets_fds_from_the_right_table(void)
{
        struct openhook_policy *p = policy_of("r", "pub/");
        struct decisions ds = {};

        CHECK_EQ(run_confined(p, prog_unshared_files, NULL, &ds), 0);
        openhook_policy_free(p);
}

static void make_tree(void)
{
        snprintf(root, sizeof root, "/tmp/oh-seccomp-XXXXXX");
        if (!mkdtemp(root))
                abort();
        mkdir(at("pub"), 0755);
        mkdir(at("rw"), 0755);
        mkdir(at("many"), 0755);
        mkdir(at("direct"), 0755);
        write_file(at("pub/allowed"), "allowed\n");
        write_file(at("secret"), "secret\n");
        write_file(at("direct/lib"), "lib\n");
        for (int i = 0; i < 64; i++) {
                char name[32], content[40];

                snprintf(name, sizeof name, "many/f%d", i);
                snprintf(content, sizeof content, "%s\n", name);
                write_file(at(name), content);
        }
}

/* ---- The prebuilt programs -------------------------------------------- */

/* openhook run takes the command's and the broker's programs as the build
 * wrote them (seccomp_prebuilt.h).  Each must be, instruction for
 * instruction, what libseccomp builds now from the tables in src/: then
 * the rules they hold are exactly those, and a table changed without a
 * rebuild of the tables cannot go unnoticed. */
static bool same_program(const struct oh_seccomp_filter *a, const struct oh_seccomp_filter *b)
{
        return a->len == b->len && a->len > 0 && memcmp(a->insns, b->insns, a->len * sizeof *a->insns) == 0;
}

static bool prebuilt_here(void)
{
        for (size_t i = 0; i < ELEMENTSOF(oh_prebuilt_broker); i++)
                if (oh_prebuilt_broker[i].len)
                        return true;
        return false;
}

static void prebuilt_command_programs_are_what_libseccomp_builds(void)
{
        if (!prebuilt_here()) {
                SKIP("this build has no prebuilt programs (a cross build)");
                return;
        }
        for (unsigned int flags = 0; flags <= OH_SECCOMP_ALL_FLAGS; flags++) {
                struct oh_seccomp_filter built, taken;
                int r = oh_seccomp_build(flags, &built);

                if (r < 0) {
                        printf("#   flags %#x: libseccomp cannot build it here (%s)\n", flags, strerror(-r));
                        oh_seccomp_filter_done(&built);
                        continue;
                }
                CHECK(oh_prebuilt_command[flags].len > 0);
                CHECK_EQ(oh_seccomp_filter_for(flags, &taken), 0);
                CHECK_EQ(taken.flags, flags);
                if (!same_program(&built, &taken))
                        printf("#   flags %#x: the prebuilt program differs from libseccomp's\n", flags);
                CHECK(same_program(&built, &taken));
                oh_seccomp_filter_done(&built);
                oh_seccomp_filter_done(&taken);
        }
}

/* The broker's program for FLAGS with PID, prebuilt and patched (or built
 * at run time where libseccomp would build another), against libseccomp's
 * own. */
static bool broker_program_matches(unsigned int flags, pid_t pid)
{
        struct oh_seccomp_filter built, taken;
        bool same;

        CHECK_EQ(oh_broker_filter_build(flags, pid, &built), 0);
        CHECK_EQ(oh_broker_filter_for(flags, pid, &taken), 0);
        same = same_program(&built, &taken);
        if (!same)
                printf("#   flags %#x, pid %d: the prebuilt program differs from libseccomp's\n", flags, (int)pid);
        oh_seccomp_filter_done(&built);
        oh_seccomp_filter_done(&taken);
        return same;
}

/* Any pid: a few of every size, and every constant the program compares
 * with (the only pids that can make libseccomp share a block). */
static void prebuilt_broker_programs_are_what_libseccomp_builds_for_any_pid(void)
{
        static const unsigned int flags[] = {
                0, OH_CONFINE_SECCOMP_SUPERVISOR, OH_CONFINE_NO_LANDLOCK,
                OH_CONFINE_SECCOMP_SUPERVISOR | OH_CONFINE_NO_LANDLOCK,
        };
        const pid_t pids[] = { 1, 2, 255, 256, 32767, 32768, 65536, 0x155555, 0x2aaaaa, 4194303, getpid() };

        if (!prebuilt_here()) {
                SKIP("this build has no prebuilt programs (a cross build)");
                return;
        }
        for (size_t f = 0; f < ELEMENTSOF(flags); f++) {
                const struct oh_bpf_program *p = &oh_prebuilt_broker[!!(flags[f] & OH_CONFINE_SECCOMP_SUPERVISOR)];

                CHECK(p->len > 0 && p->n_pid > 0);
                for (size_t i = 0; i < ELEMENTSOF(pids); i++)
                        CHECK(broker_program_matches(flags[f], pids[i]));
                for (size_t i = 0; i < p->len; i++)
                        if (p->insns[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && p->insns[i].k > 0 &&
                            p->insns[i].k < 4194304)
                                CHECK(broker_program_matches(flags[f], (pid_t)p->insns[i].k));
        }
}

int main(void)
{
        char cmd[256];

        RUN(prebuilt_command_programs_are_what_libseccomp_builds);
        RUN(prebuilt_broker_programs_are_what_libseccomp_builds_for_any_pid);
        make_tree();
        RUN(open_of_allowed_file_is_brokered_and_outside_refused);
        RUN(relative_paths_resolve_against_dirfd_and_cwd);
        RUN(file_operations_follow_the_policy);
        RUN(proc_self_means_the_program);
        RUN(unreadable_and_oversized_paths_fail_like_the_kernel);
#if defined(__x86_64__)
        RUN(i386_syscalls_are_brokered_too);
#endif
        RUN(concurrent_threads_each_get_their_own_file);
        RUN(forked_children_stay_supervised_until_the_last_exits);
        RUN(signals_never_yield_a_wrong_or_leaked_fd);
        RUN(program_killed_mid_request_leaves_the_supervisor_healthy);
        RUN(direct_set_reads_go_to_the_kernel);
        RUN(own_fds_by_name_are_the_program_s_own);
        RUN(openat2_o_path_cannot_be_turned_into_a_read_of_a_denied_file);
        RUN(an_inherited_o_path_fd_is_no_key_to_its_device);
        RUN(a_thread_with_its_own_fd_table_gets_fds_from_the_right_table);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", root);
        return TAP_DONE();
}

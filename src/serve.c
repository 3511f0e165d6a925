/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook serve: answer requests on an inherited socket (--fd) or on a
 * listening Unix socket (--listen) with the library's server loop. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "ceiling.h"
#include "confine.h"
#include "decision_log.h"
#include "openhook.h"
#include "reload.h"
#include "util.h"

enum {
        OPT_FD = OH_OPT_FIRST_FREE,
        OPT_LISTEN,
        OPT_LOG,
        OPT_THREADS,
        OPT_QUIET,
        OPT_NO_CONFINE,
        OPT_REVEAL_MISSING,
        OPT_WATCH,
        OPT_CONFINE_TO,
};

struct serve_args {
        int fd;                         /* --fd, or -1 */
        const char *listen;             /* --listen, or NULL */
        const char *log;
        unsigned int threads;
        int quiet;
        int confine;
        int reveal_missing;
        bool watch;                     /* re-read --policy files when they change */
        const char **confine_to;        /* --confine-to: the Landlock ceiling */
        size_t n_confine_to;
};

static void serve_help(void)
{
        printf("Usage: openhook serve (--fd N | --listen SOCKET) [OPTION]...\n"
               "Answer open requests under a policy; pass back the opened descriptors.\n"
               "\n"
               "  --fd N               serve the one client at the other end of the inherited\n"
               "                       Unix socket N; exit 0 once it (and every connection\n"
               "                       it made with CONNECT) has hung up\n"
               "  --listen SOCKET      create the Unix socket SOCKET (mode 0600) and serve\n"
               "                       many clients until SIGTERM or SIGINT\n"
               OH_CLI_POLICY_HELP
               "  --log FILE           append one JSON line per decision to FILE\n"
               "  --threads N          worker threads (default: one per CPU)\n"
               "  --quiet              do not print denials and warnings on stderr\n"
               "  --no-confine         do not confine the broker itself (Landlock, seccomp)\n"
               "  --confine-to PATH    the most the broker may ever grant, for its whole life:\n"
               "                       Landlock allows it PATH (repeatable) instead of what\n"
               "                       the start policy grants; a reload may grant anything\n"
               "                       beneath it\n"
               "  --watch              re-read the --policy files when they change (written\n"
               "                       in place or replaced by rename); SIGHUP re-reads\n"
               "                       them too.  A file with an error, or a policy beyond\n"
               "                       the ceiling, keeps the policy in force\n"
               "  --reveal-missing     answer ENOENT, not EACCES, for a refused path that does\n"
               "                       not exist (for clients that may stat any path anyway)\n"
               "  -h, --help           show this help\n"
               "\n"
               "At least one rule is required.  Under systemd socket activation\n"
               "(LISTEN_FDS=1), --listen serves the socket passed as fd 3.  Exit status:\n"
               "0 when done, 1 if serving failed, 2 for a usage error.\n");
}

static void parse_fd(const char *arg, struct serve_args *a)
{
        unsigned long v;
        int r = oh_parse_uint(arg, 0, INT32_MAX, &v);

        if (r < 0)
                oh_die_usage("--fd: '%s' is not a file descriptor number", arg);
        a->fd = (int)v;
}

static void add_confine_to(struct serve_args *a, const char *path)
{
        int r = oh_cli_append_path(&a->confine_to, &a->n_confine_to, path);

        if (r == -EINVAL)
                oh_die_usage("--confine-to needs an absolute path, not '%s'", path);
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "--confine-to");
}

static void parse_args(int argc, char **argv, struct serve_args *a, struct oh_cli_policy *pol)
{
        static const struct option options[] = {
                OH_CLI_POLICY_LONG_OPTIONS,
                { "fd", required_argument, NULL, OPT_FD },
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "log", required_argument, NULL, OPT_LOG },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "quiet", no_argument, NULL, OPT_QUIET },
                { "no-confine", no_argument, NULL, OPT_NO_CONFINE },
                { "reveal-missing", no_argument, NULL, OPT_REVEAL_MISSING },
                { "watch", no_argument, NULL, OPT_WATCH },
                { "confine-to", required_argument, NULL, OPT_CONFINE_TO },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned long v;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                if (oh_cli_policy_option(pol, c, optarg))
                        continue;
                switch (c) {
                case OPT_FD:
                        if (a->fd >= 0)
                                oh_die_usage("--fd given twice");
                        parse_fd(optarg, a);
                        break;
                case OPT_LISTEN:
                        if (a->listen)
                                oh_die_usage("--listen given twice");
                        if (!optarg[0])
                                oh_die_usage("--listen: empty socket path");
                        a->listen = optarg;
                        break;
                case OPT_LOG:
                        if (a->log)
                                oh_die_usage("--log given twice");
                        a->log = optarg;
                        break;
                case OPT_THREADS:
                        if (oh_parse_uint(optarg, 1, 1024, &v) < 0)
                                oh_die_usage("--threads: '%s' is not a number from 1 to 1024", optarg);
                        a->threads = (unsigned int)v;
                        break;
                case OPT_QUIET:
                        a->quiet = 1;
                        break;
                case OPT_NO_CONFINE:
                        a->confine = 0;
                        break;
                case OPT_WATCH:
                        a->watch = true;
                        break;
                case OPT_CONFINE_TO:
                        add_confine_to(a, optarg);
                        break;
                case OPT_REVEAL_MISSING:
                        a->reveal_missing = 1;
                        break;
                case 'h':
                        serve_help();
                        exit(OH_EXIT_OK);
                default:
                        oh_die_bad_option(OH_EXIT_USAGE);
                }
        }
        if (optind < argc)
                oh_die_usage("unexpected argument '%s'", argv[optind]);
        if (a->fd >= 0 && a->listen)
                oh_die_usage("--fd and --listen cannot be used together");
        if (a->fd < 0 && !a->listen)
                oh_die_usage("either --fd N or --listen SOCKET is required");
        if (pol->n_options == 0)
                oh_die_usage("no rules: give --allow, --deny or --policy (nothing could ever be allowed)");
        if (a->watch && pol->n_files == 0)
                oh_die_usage("--watch needs a --policy file to watch");
        if (a->n_confine_to && !a->confine)
                oh_die_usage("--confine-to and --no-confine cannot be used together");
}

/* The inherited fd must be a connected Unix socket of a type the server
 * speaks; anything else is a mistake in how we were started. */
static void check_client_fd(int fd)
{
        int type, domain, listening;
        socklen_t len = sizeof(int);

        if (fcntl(fd, F_GETFD) < 0)
                oh_die_usage("--fd %d: not an open file descriptor", fd);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
                if (errno == ENOTSOCK)
                        oh_die_usage("--fd %d: not a socket", fd);
                oh_die_errno(OH_EXIT_USAGE, -errno, "--fd %d", fd);
        }
        len = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
                oh_die_usage("--fd %d: not a Unix socket", fd);
        if (type != SOCK_STREAM && type != SOCK_SEQPACKET)
                oh_die_usage("--fd %d: not a SOCK_STREAM or SOCK_SEQPACKET socket", fd);
        len = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
                oh_die_usage("--fd %d: a listening socket (use --listen for that)", fd);
        /* Programs the broker might ever start must not inherit it. */
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                oh_die_errno(OH_EXIT_FAILURE, -errno, "--fd %d", fd);
}

/* Removes a socket left by a broker that died; refuses to touch anything
 * else, and a socket some broker is still answering on. */
static int remove_stale_socket(const struct sockaddr_un *sa)
{
        _cleanup_close_ int probe = -1;
        struct stat st;

        if (lstat(sa->sun_path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                oh_die(OH_EXIT_FAILURE, "--listen %s: exists and is not a socket; not replacing it",
                       sa->sun_path);
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
                return -errno;
        if (connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
                oh_die(OH_EXIT_FAILURE, "--listen %s: a broker is already serving on it", sa->sun_path);
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(sa->sun_path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int listen_on(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        mode_t old_umask;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                oh_die_usage("--listen: socket path longer than %zu bytes", sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);

        r = remove_stale_socket(&sa);
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "--listen %s", path);
        /* Non-blocking: workers accept in batches until EAGAIN. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                oh_die_errno(OH_EXIT_FAILURE, -errno, "socket");
        /* bind() creates the node with the umask applied: 0600 from the
         * start, with no moment where others could connect. */
        old_umask = umask(0177);
        r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old_umask);
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "--listen %s", path);
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                unlink(path);
                oh_die_errno(OH_EXIT_FAILURE, r, "--listen %s", path);
        }
        return TAKE_FD(fd);
}

/* sd_listen_fds(3): systemd passes the listening socket as fd 3, for us
 * (LISTEN_PID) and alone (LISTEN_FDS=1).  Returns it, or -1 when we were
 * not socket-activated. */
static int activated_socket(const char *path)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        struct sockaddr_un sa;
        socklen_t len = sizeof(sa);
        unsigned long v;
        int listening = 0, type = 0;
        socklen_t ilen = sizeof(int);

        if (!pid || !fds || oh_parse_uint(pid, 1, INT32_MAX, &v) < 0 || (pid_t)v != getpid())
                return -1;
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        if (strcmp(fds, "1") != 0)
                oh_die_usage("socket activation: LISTEN_FDS=%s, but one listening socket is served", fds);
        if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) < 0 || !listening ||
            getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 || type != SOCK_STREAM ||
            getsockname(3, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX)
                oh_die_usage("socket activation: fd 3 is not a listening Unix stream socket");
        if (len <= offsetof(struct sockaddr_un, sun_path) || strncmp(sa.sun_path, path, sizeof(sa.sun_path)) != 0)
                oh_die_usage("socket activation: fd 3 listens on another path than --listen %s", path);
        /* Non-blocking, as our own: workers accept until EAGAIN. */
        if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0 || fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK) < 0)
                oh_die_errno(OH_EXIT_FAILURE, oh_negerrno(), "socket activation");
        return 3;
}

static struct openhook_server *signal_server;

static void on_stop_signal(int sig)
{
        openhook_server_stop(signal_server);
}

/* Once the loop is over, a late SIGTERM must not reach a freed server;
 * there is nothing left to stop. */
static void block_stop_signals(void)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static const struct oh_reloader *signal_reloader;

static void on_reload_signal(int sig)
{
        oh_reloader_request(signal_reloader);
}

static void install_signals(struct openhook_server *server, const struct oh_reloader *reloader)
{
        struct sigaction sa = { .sa_handler = on_stop_signal };
        struct sigaction hup = { .sa_handler = on_reload_signal, .sa_flags = SA_RESTART };

        signal_server = server;
        signal_reloader = reloader;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        /* SIGHUP re-reads the policy files; without any it is ignored
         * rather than ending the broker. */
        sigemptyset(&hup.sa_mask);
        sigaction(SIGHUP, &hup, NULL);
        /* A client that hangs up must cost an EPIPE, not the broker. */
        signal(SIGPIPE, SIG_IGN);
}

/* The ceiling (ceiling.h): --confine-to, else the start policy, which
 * must then lie within --confine-to too. */
static void make_ceiling(struct oh_ceiling *c, const struct openhook_policy *policy, const struct serve_args *a)
{
        char why[OPENHOOK_PATH_MAX + 128];
        int r = oh_ceiling_init(c, policy, a->confine_to, a->n_confine_to);

        if (r == -EINVAL)
                oh_die_usage("--confine-to: every path must exist and be absolute");
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "cannot work out the broker's Landlock ceiling");
        if (a->n_confine_to && oh_ceiling_check(c, policy, why, sizeof why) < 0)
                oh_die(OH_EXIT_FAILURE, "the policy does not fit --confine-to: %s", why);
}

/* The broker's Landlock ruleset is built while the policy is loaded
 * (ceiling.h), by a second thread started once there are many rules: so
 * only after the policy reader is forked.  Without it, the ruleset is
 * built from oh_ceiling_build_start() on, or by confine_self(). */
static void stream_ceiling(struct oh_ceiling *c, struct oh_cli_policy *pol)
{
        /* oh_cli_policy_load() adds the rules to this one. */
        if (!pol->policy && openhook_policy_new(&pol->policy) < 0)
                return;
        (void) oh_ceiling_stream(c, pol->policy, 0);
}

/* Landlock on the ceiling (so reloads may grant anything beneath it),
 * then the other layers.  Returns 0 (also when the system offers no way
 * to confine: then with a warning) or -errno. */
static int confine_self(const struct oh_ceiling *ceiling, const struct serve_args *a)
{
        int r;

        if (!a->confine)
                return 0;
        r = oh_broker_confine(ceiling, 0);
        if (r == -EOPNOTSUPP) {
                if (!a->quiet)
                        oh_warn("warning: this kernel has no Landlock; the broker confines itself without it");
                r = oh_broker_confine(NULL, 0);
        }
        if (r == -ENOSYS) {
                if (!a->quiet)
                        oh_warn("warning: cannot confine the broker on this system (%s); serving unconfined",
                                strerror(-r));
                return 0;
        }
        if (r < 0)
                oh_warn("cannot confine the broker (--no-confine skips this): %s", strerror(-r));
        return r;
}

/* The confined broker may not remove its own socket (Landlock grants it
 * only what the policy could), so a helper forked before confinement does:
 * when the broker asks at the end, or when the broker dies.  It removes
 * the socket only if it is still the one we bound. */
struct janitor {
        int fd;         /* the broker's end; -1 if there is no janitor */
        pid_t pid;
        bool ours;      /* we made the socket (not socket activation) */
};

static noreturn void janitor_main(int fd, const char *path, const struct stat *bound)
{
        struct stat st;
        char c;

        /* A Ctrl-C for the whole terminal must not end the janitor before
         * the broker: it has to outlive it. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        if (fd > 0)
                close_range(0, fd - 1, 0);
        close_range(fd + 1, ~0u, 0);

        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
        if (lstat(path, &st) == 0 && st.st_dev == bound->st_dev && st.st_ino == bound->st_ino)
                unlink(path);
        (void) !write(fd, "", 1);
        _exit(0);
}

static void janitor_start(const char *path, struct janitor *j)
{
        struct stat st;
        int pair[2];
        pid_t pid;

        j->fd = -1;
        if (lstat(path, &st) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return;
        pid = fork();
        if (pid == 0) {
                close(pair[0]);
                janitor_main(pair[1], path, &st);
        }
        close(pair[1]);
        if (pid < 0) {
                close(pair[0]);
                return;
        }
        j->fd = pair[0];
        j->pid = pid;
}

static void remove_socket(const char *path, struct janitor *j, int quiet)
{
        char c;

        if (!j->ours)
                return;

        if (j->fd < 0) {
                if (unlink(path) < 0 && !quiet)
                        oh_warn("warning: cannot remove socket %s: %s", path, strerror(errno));
                return;
        }
        /* Waits for the janitor, so the socket is gone once we exit. */
        (void) !write(j->fd, "", 1);
        while (read(j->fd, &c, 1) < 0 && errno == EINTR)
                ;
        close(j->fd);
        waitpid(j->pid, NULL, 0);
}

/* The socket systemd passed (it stays systemd's: never removed), else
 * our own, with a janitor to remove it. */
static int listen_or_activated(const char *path, struct janitor *j)
{
        int fd = activated_socket(path);

        if (fd >= 0)
                return fd;
        fd = listen_on(path);
        janitor_start(path, j);
        j->ours = true;
        return fd;
}

static void decision_log_freep(struct oh_decision_log **log)
{
        oh_decision_log_free(*log);
}

static void server_freep(struct openhook_server **server)
{
        if (*server) {
                block_stop_signals();
                signal_server = NULL;
        }
        openhook_server_free(*server);
}

static void reveal_missing(struct openhook_policy *p, void *userdata)
{
        const struct serve_args *a = userdata;

        openhook_policy_reveal_missing(p, a->reveal_missing);
}

/* How much of the heap is asked to be in 2 MB pages: more than a policy
 * of 10,000 rules needs at start (about 5 MB). */
#define HUGE_HEAP_SPAN (16u << 20)

/* Never freed: the heap below the first 2 MB boundary, left to no one. */
static void *heap_below_huge;

/* The broker's heap in 2 MB pages, where the system lets a program ask
 * for them (transparent huge pages, "madvise" or "always").  Loading a
 * policy of 10,000 rules touches about 4.5 MB of heap, some 1,100 pages
 * of 4 KB, and the first touch of a page costs 12-27 us on our 2-CPU VM:
 * 15-20 ms of a start-up of 100 ms, against a few faults of 2 MB pages.
 * So big arrays come from the heap too (not from mmaps of their own),
 * the heap grows by HUGE_HEAP_SPAN at once and is never trimmed, and
 * all of it above the first 2 MB boundary is advised to be huge; what
 * lies below is taken by one block left untouched (address space only).
 * The cost: memory in steps of 2 MB, so only for a big policy.  Best
 * effort: where the heap is not the brk heap (ASan's allocator) nothing
 * is advised. */
static void heap_in_huge_pages(void)
{
        const uintptr_t huge = 2u << 20;

        mallopt(M_MMAP_THRESHOLD, HUGE_HEAP_SPAN);
        mallopt(M_TRIM_THRESHOLD, 2 * HUGE_HEAP_SPAN);
        mallopt(M_TOP_PAD, HUGE_HEAP_SPAN);

        char *probe = malloc(1);
        uintptr_t at = (uintptr_t) probe, end = (uintptr_t) sbrk(0);
        uintptr_t start = (at + 64 + huge - 1) & ~(huge - 1);

        if (probe && at < end && end - at <= HUGE_HEAP_SPAN + huge) {
                /* malloc's header before the block and the probe's own
                 * 32 bytes: the next block starts at START. */
                heap_below_huge = malloc(start - at - 48);
                end = (uintptr_t) sbrk(0);
                if (heap_below_huge && start < end)
                        (void) madvise((void *) start, end - start, MADV_HUGEPAGE);
        }
        free(probe);
}

/* Policy files from this size on (some 3,000 rules) are worth 2 MB pages;
 * a smaller policy would only pay their memory. */
#define HUGE_POLICY_BYTES (128u << 10)

/* The bytes of the --policy files on the command line, looked at before
 * they are read (getopt's abbreviations of --policy are not recognised
 * here: such a policy is loaded in 4 KB pages, nothing worse). */
static uint64_t policy_bytes(int argc, char **argv)
{
        uint64_t total = 0;
        struct stat st;

        for (int i = 1; i < argc; i++) {
                const char *file = strncmp(argv[i], "--policy=", 9) == 0 ? argv[i] + 9
                                   : strcmp(argv[i], "--policy") == 0 && i + 1 < argc ? argv[i + 1]
                                   : NULL;
                if (file && stat(file, &st) == 0 && S_ISREG(st.st_mode))
                        total += (uint64_t) st.st_size;
        }
        return total;
}

int cmd_serve(int argc, char **argv)
{
        struct serve_args a = { .fd = -1, .confine = 1 };
        __attribute__((cleanup(oh_cli_policy_done)))
                struct oh_cli_policy pol = OH_CLI_POLICY_INIT("serve", OH_EXIT_USAGE, OH_EXIT_FAILURE);
        __attribute__((cleanup(decision_log_freep))) struct oh_decision_log *log = NULL;
        __attribute__((cleanup(server_freep))) struct openhook_server *server = NULL;
        __attribute__((cleanup(oh_ceiling_done))) struct oh_ceiling ceiling = {};
        struct janitor janitor = { .fd = -1 };
        int fd, r;

        pol.defer = true;
        parse_args(argc, argv, &a, &pol);
        if (a.fd >= 0)
                check_client_fd(a.fd);
        /* Only now: the reader, forked next, must not share a 2 MB page
         * we write to (each 4 KB of it written would be copied). */
        if (policy_bytes(argc, argv) >= HUGE_POLICY_BYTES)
                heap_in_huge_pages();

        struct oh_reloader reloader = {
                .cli = &pol, .ceiling = &ceiling, .quiet = a.quiet,
                .adjust = reveal_missing, .adjust_data = &a,
        };
        /* The policy reader is forked before the policy is loaded, while
         * we are small: forked later, it would share the pages of the
         * policy, and each of them written by either process while shared
         * is copied (at a loaded rule's 10,000, about 110 such faults). */
        r = oh_reloader_start_reader(&reloader, a.watch);
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "cannot start the policy reader");
        if (a.confine && a.n_confine_to == 0)
                stream_ceiling(&ceiling, &pol);
        oh_cli_policy_load(&pol);

        /* Everything that can fail comes before the socket exists, so a
         * failure never leaves one behind. */
        r = oh_decision_log_new(a.log, a.quiet ? OH_DECISION_LOG_QUIET : 0, &log);
        if (r < 0) {
                oh_warn("--log %s: %s", a.log, strerror(-r));
                return OH_EXIT_FAILURE;
        }
        reloader.log = log;
        reloader.current = oh_cli_policy_take(&pol);
        reveal_missing(reloader.current, &a);
        make_ceiling(&ceiling, reloader.current, &a);
        r = openhook_server_new(reloader.current, &server);
        if (r < 0) {
                oh_warn("cannot create the server: %s", strerror(-r));
                openhook_policy_free(reloader.current);
                return OH_EXIT_FAILURE;
        }
        reloader.server = server;
        openhook_server_set_log(server, oh_decision_log_write, log);
        install_signals(server, &reloader);
        /* The rest of the broker's Landlock ruleset is built while the
         * socket is made; without it confine_self() builds it itself. */
        if (a.confine)
                (void) oh_ceiling_build_start(&ceiling, 0);
        /* Clients may connect once the socket exists, and no change to
         * the policy files made from then on may be missed: the reader
         * must watch them by then.  A client of --fd is answered only
         * once oh_reloader_start() has waited for it. */
        r = a.listen ? oh_policy_reader_ready(&reloader.reader) : 0;
        if (r < 0)
                oh_die_errno(OH_EXIT_FAILURE, r, "cannot start the policy reader");

        fd = a.listen ? listen_or_activated(a.listen, &janitor) : a.fd;
        oh_ceiling_build_end(&ceiling);
        r = confine_self(&ceiling, &a);
        if (r == 0 && (r = oh_reloader_start(&reloader)) < 0)
                oh_warn("cannot start the policy reader: %s", strerror(-r));
        if (r == 0) {
                /* The server owns a client fd from here on; a listening one
                 * stays ours. */
                r = openhook_server_run(server, fd, a.listen != NULL, a.threads);
                if (r < 0)
                        oh_warn("serving failed: %s", strerror(-r));
        }
        block_stop_signals();
        oh_reloader_stop(&reloader);
        free(a.confine_to);
        if (a.listen) {
                close(fd);
                remove_socket(a.listen, &janitor, a.quiet);
        }
        return r < 0 ? OH_EXIT_FAILURE : OH_EXIT_OK;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook run: start a broker, then COMMAND confined by Landlock, its
 * opens going to the broker (through the LD_PRELOAD shim and, in seccomp
 * mode, seccomp user notification for whatever the shim does not catch);
 * wait for COMMAND and exit with its status, as env(1). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <stdnoreturn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ceiling.h"
#include "cli.h"
#include "commands.h"
#include "confine.h"
#include "fdpass.h"
#include "run.h"
#include "seccomp_prebuilt.h"
#include "util.h"

enum {
        OPT_MODE = OH_OPT_FIRST_FREE,
        OPT_LOG,
        OPT_LEARN,
        OPT_LEARN_COLLAPSE,
        OPT_DIRECT,
        OPT_NO_DEFAULT_DIRECT,
        OPT_UNCONFINED,
        OPT_DIRECT_READS,
        OPT_NO_SHIM,
        OPT_NO_NETWORK,
        OPT_NO_PRIVATE_TMP,
        OPT_WATCH,
        OPT_CONFINE_TO,
};

struct run_options {
        enum run_mode mode;
        bool mode_given;
        struct oh_cli_policy pol;
        const char *log_file;
        const char *learn_file;
        bool learn_collapse;
        bool unconfined;
        bool default_direct;
        bool direct_reads;
        bool no_shim;                   /* seccomp mode without the preload shim */
        bool no_network;                /* AF_UNIX sockets only, no TCP */
        bool private_tmp;               /* t on /tmp/, /var/tmp/, /dev/shm/ */
        bool watch;                     /* re-read --policy files when they change */
        const char **confine_to;        /* --confine-to: the broker's Landlock ceiling */
        size_t n_confine_to;
        bool supervised;                /* a supervisor can read COMMAND's syscalls (both modes) */
        const char **direct;            /* --direct arguments */
        size_t n_direct;
        char **argv;                    /* COMMAND [ARG]... */
};

static void help(void)
{
        printf("Usage: openhook run [OPTION]... -- COMMAND [ARG]...\n"
               "Run COMMAND with its file opens brokered: a broker process checks each\n"
               "request against the policy and passes back the opened descriptor, while\n"
               "Landlock denies COMMAND direct access to anything but the direct set\n"
               "(system libraries and programs, /proc, the standard devices).\n"
               "\n"
               "Options:\n"
               "  --mode seccomp|preload  how opens reach the broker: seccomp user\n"
               "                       notification (default; covers static programs and\n"
               "                       raw syscalls; needs Linux 5.14, else preload is used\n"
               "                       with a notice) or an LD_PRELOAD shim in libc's calls;\n"
               "                       seccomp mode preloads the shim too, as its fast path\n"
               "  --no-shim            with --mode seccomp: no shim, every open is a\n"
               "                       notification (slower; for comparison)\n"
               OH_CLI_POLICY_HELP
               "  --log FILE           append every decision to FILE as a JSON line\n"
               "  --learn FILE         allow everything, then write to FILE the policy\n"
               "                       that grants exactly what COMMAND used\n"
               "  --learn-collapse     with --learn: one DIR/ rule for two or more files\n"
               "                       used in the same directory\n"
               "  --direct PATH        let COMMAND read and execute PATH (a file or a\n"
               "                       tree) itself, without the broker; repeatable\n"
               "  --no-default-direct  start from an empty direct set\n"
               "  --direct-reads       let COMMAND read itself, under Landlock, the files\n"
               "                       and trees the policy lets it read where no deny or\n"
               "                       more specific rule applies: faster, but those reads\n"
               "                       are not logged, and Landlock's view of symlinks\n"
               "                       applies to them (seccomp mode: only to the opens\n"
               "                       the shim leaves to the kernel); not with --learn\n"
               "                       or --unconfined\n"
               "  --watch              re-read the --policy files when they change (written\n"
               "                       in place or replaced by rename): the broker decides\n"
               "                       with the new policy from then on.  What Landlock\n"
               "                       gives COMMAND itself (the direct set, --direct,\n"
               "                       --direct-reads, x rules) is fixed at start.  A file\n"
               "                       with an error keeps the policy in force.  SIGHUP is\n"
               "                       COMMAND's, as always\n"
               "  --confine-to PATH    the most the broker may ever grant (repeatable): its\n"
               "                       Landlock floor holds PATH instead of what the start\n"
               "                       policy grants, so a reload may grant beneath it\n"
               "  --no-private-tmp     no t rules for /tmp/, /var/tmp/ and /dev/shm/ (by\n"
               "                       default COMMAND may make files there and use those\n"
               "                       it made, never anyone else's)\n"
               "  --no-network         no sockets but AF_UNIX (Landlock denies TCP where\n"
               "                       the kernel can, and socket() refuses the other\n"
               "                       families)\n"
               "  --unconfined         do not apply Landlock (needed where the kernel\n"
               "                       lacks it): direct opens are then not prevented,\n"
               "                       nor signals and abstract sockets outside\n"
               "  -h, --help           show this help\n"
               "\n"
               "Exit status: that of COMMAND (128+N if signal N killed it); 125 if\n"
               "openhook run itself failed, 126 if COMMAND cannot be executed, 127 if\n"
               "it was not found.  See openhook(1).\n");
}

__attribute__((format(printf, 1, 2)))
static noreturn void run_usage(const char *fmt, ...)
{
        va_list ap;
        char text[OPENHOOK_PATH_MAX];

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        oh_warn("%s", text);
        oh_die_bad_option(OH_EXIT_RUN_FAILED);
}

static void add_direct(struct run_options *o, const char *path)
{
        const char **direct = realloc(o->direct, (o->n_direct + 1) * sizeof(*direct));
        if (!direct)
                oh_die_errno(OH_EXIT_RUN_FAILED, -ENOMEM, "--direct");
        o->direct = direct;
        o->direct[o->n_direct++] = path;
}

static void add_confine_to(struct run_options *o, const char *path)
{
        int r = oh_cli_append_path(&o->confine_to, &o->n_confine_to, path);

        if (r == -EINVAL)
                run_usage("--confine-to needs an absolute path, not '%s'", path);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "--confine-to");
}

static void parse_options(struct run_options *o, int argc, char **argv)
{
        static const struct option options[] = {
                OH_CLI_POLICY_LONG_OPTIONS,
                { "mode", required_argument, NULL, OPT_MODE },
                { "log", required_argument, NULL, OPT_LOG },
                { "learn", required_argument, NULL, OPT_LEARN },
                { "learn-collapse", no_argument, NULL, OPT_LEARN_COLLAPSE },
                { "direct", required_argument, NULL, OPT_DIRECT },
                { "no-default-direct", no_argument, NULL, OPT_NO_DEFAULT_DIRECT },
                { "unconfined", no_argument, NULL, OPT_UNCONFINED },
                { "direct-reads", no_argument, NULL, OPT_DIRECT_READS },
                { "no-shim", no_argument, NULL, OPT_NO_SHIM },
                { "no-network", no_argument, NULL, OPT_NO_NETWORK },
                { "no-private-tmp", no_argument, NULL, OPT_NO_PRIVATE_TMP },
                { "watch", no_argument, NULL, OPT_WATCH },
                { "confine-to", required_argument, NULL, OPT_CONFINE_TO },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                if (oh_cli_policy_option(&o->pol, c, optarg))
                        continue;
                switch (c) {
                case OPT_MODE:
                        if (strcmp(optarg, "preload") == 0)
                                o->mode = RUN_MODE_PRELOAD;
                        else if (strcmp(optarg, "seccomp") == 0)
                                o->mode = RUN_MODE_SECCOMP;
                        else
                                run_usage("unknown --mode '%s' (expected seccomp or preload)", optarg);
                        o->mode_given = true;
                        break;
                case OPT_LOG:
                        o->log_file = optarg;
                        break;
                case OPT_LEARN:
                        o->learn_file = optarg;
                        break;
                case OPT_LEARN_COLLAPSE:
                        o->learn_collapse = true;
                        break;
                case OPT_DIRECT:
                        if (optarg[0] != '/' || strchr(optarg, ':'))
                                run_usage("--direct needs an absolute path without ':', not '%s'", optarg);
                        add_direct(o, optarg);
                        break;
                case OPT_NO_DEFAULT_DIRECT:
                        o->default_direct = false;
                        break;
                case OPT_UNCONFINED:
                        o->unconfined = true;
                        break;
                case OPT_DIRECT_READS:
                        o->direct_reads = true;
                        break;
                case OPT_NO_SHIM:
                        o->no_shim = true;
                        break;
                case OPT_NO_NETWORK:
                        o->no_network = true;
                        break;
                case OPT_NO_PRIVATE_TMP:
                        o->private_tmp = false;
                        break;
                case OPT_WATCH:
                        o->watch = true;
                        break;
                case OPT_CONFINE_TO:
                        add_confine_to(o, optarg);
                        break;
                case 'h':
                        help();
                        exit(OH_EXIT_OK);
                default:
                        oh_die_bad_option(OH_EXIT_RUN_FAILED);
                }
        }
        if (optind >= argc)
                run_usage("%s", "missing COMMAND");
        if (o->learn_file && o->pol.n_options > 0)
                run_usage("%s", "--learn writes a policy: it takes no --policy, --allow or --deny");
        if (o->learn_collapse && !o->learn_file)
                run_usage("%s", "--learn-collapse needs --learn FILE");
        /* --learn must see every open; without Landlock, a direct read
         * would be an open nothing checks. */
        if (o->direct_reads && o->learn_file)
                run_usage("%s", "--direct-reads cannot be combined with --learn, which must see every open");
        if (o->direct_reads && o->unconfined)
                run_usage("%s", "--direct-reads needs Landlock: it cannot be combined with --unconfined");
        if (o->no_shim && o->mode_given && o->mode == RUN_MODE_PRELOAD)
                run_usage("%s", "--no-shim is for --mode seccomp: preload mode is the shim");
        if (o->watch && o->pol.n_files == 0)
                run_usage("%s", "--watch needs a --policy file to watch");
        if ((o->watch || o->n_confine_to) && o->unconfined)
                run_usage("%s", "--watch and --confine-to need Landlock: not with --unconfined");
        o->argv = argv + optind;
}

/* Landlock is what makes the broker matter: without it the command could
 * simply open files itself, so running without it must be asked for. */
static void require_landlock(const struct run_options *o)
{
        if (o->unconfined)
                return;
        int abi = oh_landlock_abi();
        if (abi < 0)
                oh_die(OH_EXIT_RUN_FAILED,
                       "this kernel has no Landlock (%s), so COMMAND could open any file "
                       "directly; pass --unconfined to run it anyway", strerror(-abi));
}

/* Seccomp mode is the default: it brokers what the shim cannot see (static
 * programs, raw syscalls, libc's internal opens, programs that close
 * inherited fds), and with the shim as its fast path it is as fast as
 * preload mode.  A kernel without what it needs gets preload mode instead,
 * unless seccomp mode was asked for (--no-shim asks for it). */
static const char *probe_failure(int r)
{
        return r == -EOPNOTSUPP
                ? "this kernel cannot inject descriptors through seccomp user notification (Linux 5.14+)"
                : r == -EPERM ? "Yama's ptrace_scope keeps the supervisor from reading COMMAND's "
                                "system call arguments (it needs CAP_SYS_PTRACE)"
                : strerror(-r);
}

/* In both modes a supervisor decides what Landlock cannot hold (sockets
 * by path, metadata through fds, the terminal, keyrings); preload mode
 * needs no fd injection for that.  Where it cannot read COMMAND's
 * arguments, those calls are refused outright instead.  PROBE is the
 * answer of oh_seccomp_probe_finish(). */
static void apply_probe(struct run_options *o, int probe)
{
        o->supervised = probe >= 0 || probe == -EOPNOTSUPP;
        if (!(o->mode_given && o->mode == RUN_MODE_PRELOAD))
                o->mode = probe >= 0 ? RUN_MODE_SECCOMP : RUN_MODE_PRELOAD;
}

/* apply_probe(), saying what it costs, or refusing it where seccomp mode
 * was asked for. */
static void choose_mode(struct run_options *o, int probe)
{
        if (probe < 0 && !(o->mode_given && o->mode == RUN_MODE_PRELOAD)) {
                if (o->mode_given || o->no_shim)
                        oh_die(OH_EXIT_RUN_FAILED, "--mode seccomp is not available: %s", probe_failure(probe));
                oh_warn("%s: using --mode preload", probe_failure(probe));
        }
        apply_probe(o, probe);
        if (!o->supervised)
                oh_warn("%s: connect, sends with an address and metadata changes through fds are refused",
                        probe_failure(probe));
}

static unsigned int seccomp_flags(const struct run_options *o)
{
        /* The mark bypasses the notification only where Landlock holds
         * what it reaches. */
        return (o->mode == RUN_MODE_SECCOMP ? OH_SECCOMP_OPENS : 0) |
               (o->mode == RUN_MODE_SECCOMP && !o->unconfined ? OH_SECCOMP_MARK : 0) |
               (o->learn_file ? OH_SECCOMP_LEARN_EXEC : 0) |
               (o->no_network ? OH_SECCOMP_NO_NETWORK : 0) |
               (o->supervised ? 0 : OH_SECCOMP_NO_LISTENER);
}

/* The file execvp() would run.  Found here, not by execvp() in the child,
 * because Landlock must be told which file COMMAND is. */
static int find_command(const char *name, char **ret)
{
        if (strchr(name, '/'))
                return (*ret = strdup(name)) ? 0 : -ENOMEM;

        const char *search = getenv("PATH");
        if (!search || !*search)
                search = "/usr/local/bin:/usr/bin:/bin";

        _cleanup_free_ char *not_executable = NULL;
        for (const char *dir = search;; dir++) {
                size_t len = strcspn(dir, ":");
                _cleanup_free_ char *candidate = NULL;
                struct stat st;

                if (asprintf(&candidate, "%.*s/%s", (int)len, len ? dir : ".", name) < 0)
                        return -ENOMEM;
                if (stat(candidate, &st) == 0 && !S_ISDIR(st.st_mode)) {
                        if (access(candidate, X_OK) == 0) {
                                *ret = TAKE_PTR(candidate);
                                return 0;
                        }
                        if (!not_executable)
                                not_executable = TAKE_PTR(candidate);
                }
                dir += len;
                if (*dir == '\0')
                        break;
        }
        /* As execvp(): a file found but not executable fails with EACCES. */
        if (not_executable) {
                *ret = TAKE_PTR(not_executable);
                return 0;
        }
        return -ENOENT;
}

/* NAME in the directory LEVELS above our executable (in the build tree,
 * beside openhook) into CANDIDATE, if it is there with MODE (access(2)). */
static bool in_build_tree(const char *name, int levels, int mode, char *candidate, size_t size)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n <= 0)
                return false;
        exe[n] = '\0';
        for (int i = 0; i < levels; i++) {
                char *slash = strrchr(exe, '/');
                if (slash)
                        *slash = '\0';
        }
        return (size_t)snprintf(candidate, size, "%s/%s", exe, name) < size && access(candidate, mode) == 0;
}

/* OPENHOOK_PRELOAD, else the shim next to this binary in a build tree
 * (<build>/src/openhook and <build>/preload/), else the installed one. */
static int find_preload(char **ret)
{
        const char *env = getenv("OPENHOOK_PRELOAD");
        char candidate[PATH_MAX + 64];
        const char *path = OH_PRELOAD_INSTALLED;

        if (env && *env)
                path = env;
        else if (in_build_tree("preload/libopenhook-preload.so", 2, R_OK, candidate, sizeof candidate))
                path = candidate;
        *ret = realpath(path, NULL);
        if (!*ret)
                return oh_negerrno();
        if (strpbrk(*ret, ": "))
                return -EINVAL;         /* LD_PRELOAD separates entries with these */
        return 0;
}

/* The direct set, plus what exec needs: COMMAND itself and the shim,
 * plus with --direct-reads what the policy lets COMMAND read.  *SHIM_ENV
 * gets the OPENHOOK_DIRECT list for the shim, in both modes: in seccomp
 * mode the shim's reads of it go to the kernel marked, without a
 * notification (lib/open_mark.h). */
static int build_direct(const struct run_options *o, const char *command, const char *preload,
                        const struct openhook_policy *policy, struct run_direct *d,
                        char **shim_env)
{
        int r = o->default_direct ? run_direct_add_defaults(d) : 0;

        for (size_t i = 0; r >= 0 && i < o->n_direct; i++)
                r = run_direct_add(d, o->direct[i], OH_LL_READ | OH_LL_EXEC);
        if (r >= 0)
                r = run_direct_add_executable(d, policy);
        if (r >= 0 && preload)
                r = run_direct_add(d, preload, OH_LL_READ | OH_LL_EXEC);
        if (r < 0)
                return r;

        /* Script interpreters read COMMAND too.  Missing: exec reports it. */
        _cleanup_free_ char *real = realpath(command, NULL);
        if (real && !strchr(real, ':'))
                r = run_direct_add(d, real, OH_LL_READ | OH_LL_EXEC);
        if (r < 0)
                return r;
        if (o->direct_reads) {
                r = run_direct_add_policy_reads(d, policy);
                if (r < 0)
                        return r;
                if (r > 0)
                        oh_warn("--direct-reads: %d rule%s stay%s brokered: OPENHOOK_DIRECT is full",
                                r, r == 1 ? "" : "s", r == 1 ? "s" : "");
        }
        if (!(*shim_env = run_direct_env(d)))
                return -ENOMEM;
        return 0;
}

static int set_direct_env(const struct run_direct *direct)
{
        _cleanup_free_ char *value = run_direct_env(direct);

        if (!value)
                return -ENOMEM;
        return setenv("OPENHOOK_DIRECT", value, 1) < 0 ? oh_negerrno() : 0;
}

static struct openhook_policy *make_policy(struct run_options *o)
{
        if (!o->learn_file)
                return oh_cli_policy_take(&o->pol);

        struct openhook_policy *policy;
        _cleanup_free_ char *error = NULL;
        int r = openhook_policy_new(&policy);
        if (r >= 0)
                r = openhook_policy_allow(policy, "rwcd", "/", &error);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot build the learning policy%s%s",
                             error ? ": " : "", error ? error : "");
        return policy;
}

/* ---- Waiting ------------------------------------------------------------ */

static int exit_code(int status)
{
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

struct run_wait {
        pid_t command, broker;
        int command_status;             /* -1 while it runs */
        int broker_status;              /* -1 while it runs */
        int broker_raw;                 /* its wait status */
        bool broker_died;               /* ended abnormally while the command ran */
        struct timespec kill_at;        /* then: when the command gets SIGKILL */
};

#define BROKER_DEATH_GRACE_MS 2000      /* from SIGTERM to SIGKILL */

static void reap(struct run_wait *w)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid == w->command)
                        w->command_status = exit_code(status);
                else if (pid == w->broker) {
                        w->broker_status = exit_code(status);
                        w->broker_raw = status;
                } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                        /* The one other child: the abstract connector's
                         * go-between, which could not start it. */
                        oh_warn("the abstract connector did not start: COMMAND's connects and sends to "
                                "abstract UNIX sockets are refused");
                }
        }
}

/* A broker that dies leaves the command without its files (and, in
 * seccomp mode, with every path syscall failing): it is ended, and run
 * says why rather than pass on a status the command reached without
 * them.  A broker that exits 0 has seen the last connection close. */
static void broker_died(struct run_wait *w)
{
        if (WIFSIGNALED(w->broker_raw))
                oh_warn("the broker was killed by signal %d (%s): ending COMMAND, which can no longer reach its files",
                        WTERMSIG(w->broker_raw), strsignal(WTERMSIG(w->broker_raw)));
        else
                oh_warn("the broker exited with status %d: ending COMMAND, which can no longer reach its files",
                        WEXITSTATUS(w->broker_raw));
        w->broker_died = true;
        kill(w->command, SIGTERM);
        clock_gettime(CLOCK_MONOTONIC, &w->kill_at);
        w->kill_at.tv_sec += BROKER_DEATH_GRACE_MS / 1000;
}

static int next_signal(const sigset_t *mask, siginfo_t *si, const struct timespec *deadline)
{
        struct timespec now, left;

        if (!deadline)
                return sigwaitinfo(mask, si);
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = deadline->tv_sec - now.tv_sec;
        left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
                left.tv_sec--;
                left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0) {
                errno = EAGAIN;
                return -1;
        }
        return sigtimedwait(mask, si, &left);
}

/* Signals from the terminal (SI_KERNEL) already reached the command, which
 * shares our process group; those sent to us alone are passed on.  Once
 * the command is gone, a signal ends the wait for the broker instead. */
static void wait_all(struct run_wait *w, const sigset_t *mask, bool wait_broker)
{
        while (w->command_status < 0 || (wait_broker && w->broker_status < 0 && !w->broker_died)) {
                siginfo_t si;
                int sig = next_signal(mask, &si, w->broker_died ? &w->kill_at : NULL);

                if (sig < 0 && errno == EAGAIN) {
                        kill(w->command, SIGKILL);
                        w->kill_at.tv_sec += 3600;
                        continue;
                }
                if (sig < 0)
                        continue;
                if (sig == SIGCHLD) {
                        reap(w);
                        if (w->broker_status >= 0 && w->command_status < 0 && !w->broker_died &&
                            w->broker_raw != 0)
                                broker_died(w);
                        continue;
                }
                if (w->command_status >= 0) {
                        oh_warn("not waiting for the broker to finish (%s)", strsignal(sig));
                        return;
                }
                if (si.si_code != SI_KERNEL)
                        kill(w->command, sig);
        }
}

/* The broker ended before it took the command's listener (it never said
 * it was confined, or the hand-over found it gone): it is reaped, how it
 * ended is said and the command, which may have executed (its notified
 * calls fail since our copy of the listener is closed), is ended, as for
 * a broker that dies later. */
static int broker_gone_at_start(struct run_wait *w, const sigset_t *mask)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(w->broker, &status, 0)) < 0 && errno == EINTR)
                ;
        if (pid == w->broker) {
                w->broker_raw = status;
                w->broker_status = exit_code(status);
        }
        broker_died(w);
        wait_all(w, mask, false);
        return OH_EXIT_RUN_FAILED;
}

/* ---- Putting it together ---------------------------------------------- */

struct run_state {
        struct run_options opt;
        struct oh_reloader reloader;    /* --watch: the broker's, set up here */
        char *command;
        char *preload;
        struct run_direct direct;
        char *shim_direct;              /* build_direct() */
        struct openhook_policy *policy;
        struct oh_decision_log *log;
        struct oh_learn *learn;
        int learn_fd;
        struct oh_seccomp_probe probe;  /* started in prepare() */
        struct oh_ceiling ceiling;      /* the broker's, built in launch() */
        struct run_child child;         /* the command's process */
        struct oh_seccomp_filter filter; /* the command's, taken in settle_mode() */
};

/* Not called but under ASan (cmd_run()): our memory is the broker's too,
 * copy-on-write, and freeing it would copy it. */
static void run_state_done(struct run_state *s)
{
        run_child_done(&s->child);
        oh_ceiling_done(&s->ceiling);
        oh_seccomp_filter_done(&s->filter);
        oh_learn_free(s->learn);
        oh_decision_log_free(s->log);
        openhook_policy_free(s->policy);
        run_direct_done(&s->direct);
        free(s->preload);
        free(s->shim_direct);
        free(s->command);
        free(s->opt.direct);
        free(s->opt.confine_to);
        oh_cli_policy_done(&s->opt.pol);
        if (s->learn_fd >= 0)
                close(s->learn_fd);
}

/* Everything that can fail because of the command line or the system, so
 * that nothing has been started when it does. */
static void prepare(struct run_state *s)
{
        struct run_options *o = &s->opt;
        int r;

        require_landlock(o);
        /* Answered beside the work below and the broker's Landlock floor,
         * which do not depend on it (settle_mode()).  The broker's log
         * reads the time zone, there too: the broker, forked from us,
         * then finds it read. */
        s->probe.beside = tzset;
        oh_seccomp_probe_start(&s->probe);
        r = find_command(o->argv[0], &s->command);
        if (r == -ENOENT)
                oh_die(OH_EXIT_NOT_FOUND, "%s: command not found", o->argv[0]);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "%s", o->argv[0]);

        /* Either mode preloads the shim unless --no-shim, which is for
         * seccomp mode alone. */
        if (!o->no_shim) {
                r = find_preload(&s->preload);
                if (r < 0)
                        oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot use the preload library "
                                     "(set OPENHOOK_PRELOAD to libopenhook-preload.so)");
        }
        s->policy = make_policy(o);
        /* --learn allows everything: a t rule would narrow /tmp. */
        if (o->private_tmp && !o->learn_file) {
                r = run_add_private_tmp(s->policy);
                if (r < 0)
                        oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot add the private temporary directories");
        }
        /* COMMAND may stat(2) any path: telling it EACCES for a file that
         * does not exist would hide nothing and stop programs that probe
         * for optional files. */
        openhook_policy_reveal_missing(s->policy, 1);
        r = build_direct(o, s->command, s->preload, s->policy, &s->direct, &s->shim_direct);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot build the direct set");
        /* The broker inherits it: a seccomp supervisor lets reads of the
         * direct set through to the kernel, which is safe only because
         * Landlock holds COMMAND to that set.  Without Landlock the broker
         * must not have it, not even from our own environment. */
        if (o->unconfined)
                r = unsetenv("OPENHOOK_DIRECT") < 0 ? oh_negerrno() : 0;
        else
                r = set_direct_env(&s->direct);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "OPENHOOK_DIRECT");

        r = oh_decision_log_new(o->log_file, 0, &s->log);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot open log file '%s'", o->log_file);
        if (o->learn_file) {
                s->learn_fd = open(o->learn_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
                if (s->learn_fd < 0)
                        oh_die_errno(OH_EXIT_RUN_FAILED, oh_negerrno(), "cannot write '%s'", o->learn_file);
                r = oh_learn_new((const char *const *)s->direct.paths, o->learn_collapse, &s->learn);
                if (r < 0)
                        oh_die_errno(OH_EXIT_RUN_FAILED, r, "--learn");
        }
}

/* The mode, once the probe prepare() started has answered, and what
 * depends on it: the command's seccomp program and, without Landlock,
 * the direct set in the policy.  Before the broker is forked (it must be
 * single-threaded), as late as that allows. */
static void settle_mode(struct run_state *s)
{
        struct run_options *o = &s->opt;

        choose_mode(o, oh_seccomp_probe_finish(&s->probe));
        int r = oh_seccomp_filter_for(seccomp_flags(o), &s->filter);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot build the seccomp filter");
        /* A supervisor without Landlock under COMMAND may not let the
         * kernel open anything; it opens the direct set itself, under the
         * policy, so that a dynamic program can start. */
        if (o->unconfined && o->mode == RUN_MODE_SECCOMP) {
                r = run_direct_add_to_policy(&s->direct, s->policy);
                if (r < 0)
                        oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot add the direct set to the policy");
        }
}

/* The broker's Landlock floor, raised here so that broker and command
 * share it: the command's own domain is then nested in the broker's,
 * which is what lets a supervisor read the command's memory and take its
 * fds (Landlock allows that only into one's own or a nested domain).  It
 * is the union of what the policy can grant and the command's direct
 * set, plus /proc, where the supervisor reads the command's cwd and fds;
 * the broker adds no domain of its own. */
static void raise_floor(const struct run_state *s, const struct oh_ceiling *ceiling)
{
        const struct run_direct *d = &s->direct;
        _cleanup_free_ struct oh_ll_rule *extra = calloc(d->n + 2, sizeof(*extra));
        size_t n = d->n;
        int abi = oh_landlock_abi(), r;

        if (!extra)
                oh_die_errno(OH_EXIT_RUN_FAILED, -ENOMEM, "Landlock");
        memcpy(extra, d->rules, d->n * sizeof(*extra));
        extra[n++] = (struct oh_ll_rule) { "/proc", OH_LL_READ | OH_LL_IS_DIR };
        if (s->learn)
                extra[n++] = (struct oh_ll_rule) { "/", OH_LL_EXEC | OH_LL_READ };
        r = oh_ceiling_apply(ceiling, extra, n, OH_LL_APPLY_SCOPE);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot confine the broker with Landlock");
        if (abi < OH_LL_ABI_SCOPE)
                oh_warn("this kernel's Landlock (ABI %d) cannot scope signals and abstract sockets "
                        "(Linux 6.12+): COMMAND can signal processes outside the sandbox and "
                        "connect to their abstract sockets", abi);
}

/* What every policy of this run gets beside its own rules, the reloaded
 * ones too: the private temporaries. */
static void run_defaults(struct openhook_policy *p, void *userdata)
{
        const struct run_options *o = userdata;
        int r = o->private_tmp && !o->learn_file ? run_add_private_tmp(p) : 0;

        if (r < 0)
                oh_warn("cannot add the private temporary directories: %s", strerror(-r));
        /* A reloaded policy too: COMMAND may stat(2) any path. */
        openhook_policy_reveal_missing(p, 1);
}

/* --confine-to, and what run adds to every policy. */
static int ceiling_of_options(struct oh_ceiling *c, const struct run_state *s)
{
        struct openhook_policy *defaults;
        int r = oh_ceiling_init(c, s->policy, s->opt.confine_to, s->opt.n_confine_to);

        if (r < 0 || s->opt.n_confine_to == 0)
                return r;
        r = openhook_policy_new(&defaults);
        if (r < 0)
                return r;
        run_defaults(defaults, (void *)&s->opt);
        r = oh_ceiling_add_policy(c, defaults);
        openhook_policy_free(defaults);
        return r;
}

/* The broker's ceiling (ceiling.h) and, with --watch, its policy reader,
 * which must be started before the floor: it opens the policy files. */
static void prepare_reload(struct run_state *s, struct oh_ceiling *ceiling)
{
        char why[OPENHOOK_PATH_MAX + 128];
        int r = ceiling_of_options(ceiling, s);

        if (r == -EINVAL)
                run_usage("%s", "--confine-to: every path must exist and be absolute");
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot work out the broker's Landlock ceiling");
        if (s->opt.n_confine_to && oh_ceiling_check(ceiling, s->policy, why, sizeof why) < 0)
                oh_die(OH_EXIT_RUN_FAILED, "the policy does not fit --confine-to: %s", why);
        s->reloader = (struct oh_reloader) {
                .cli = &s->opt.pol, .ceiling = ceiling, .log = s->log, .current = s->policy,
                .adjust = run_defaults, .adjust_data = &s->opt, .reader = { .fd = -1 },
        };
        if (!s->opt.watch)
                return;
        r = oh_reloader_start_reader(&s->reloader, true);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot start the policy reader");
}

static int launch(struct run_state *s, const sigset_t *mask, const sigset_t *old_mask)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, oh_negerrno(), "socketpair");
        _cleanup_close_ int broker_end = sv[0];
        _cleanup_close_ int command_end = sv[1];

        int r = run_drop_bounding();
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot drop capabilities");

        /* Built before the broker is forked: after the fork each page we
         * write first is copied (60-90 us on our VM), and the command's
         * way to execve, not the broker's start, is the longer one. */
        struct run_child *c = &s->child;
        *c = (struct run_child) {
                .path = s->command,
                .argv = s->opt.argv,
                .sock = command_end,
                .preload = s->preload,
                .direct = &s->direct,
                .shim_direct = s->shim_direct,
                .landlock = !s->opt.unconfined,
                .landlock_flags = OH_LL_APPLY_SCOPE | (s->opt.no_network ? OH_LL_APPLY_NO_TCP : 0),
                .exec_anywhere = s->learn != NULL,
                .filter = &s->filter,
                .sigmask = *old_mask,
        };
        r = run_child_prepare(c);
        if (r < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, r, "cannot prepare COMMAND");

        if (!s->opt.unconfined) {
                prepare_reload(s, &s->ceiling);
                raise_floor(s, &s->ceiling);
        }
        settle_mode(s);

        struct run_broker b = {
                .reloader = s->opt.watch ? &s->reloader : NULL,
                .mode = s->opt.mode,
                .seccomp_flags = seccomp_flags(&s->opt),
                .policy = s->policy,
                .sock = broker_end,
                .peer = command_end,
                .command_ruleset = c->ruleset,
                .log = s->log,
                .learn = s->learn,
                .learn_fd = s->learn_fd,
                .argv = s->opt.argv,
        };
        struct run_wait w = { .command_status = -1, .broker_status = -1 };
        int fd;
        w.broker = run_broker_start(&b, &fd);
        _cleanup_close_ int start = fd;
        /* The reader and the ceiling are the broker's now (our copy of the
         * ceiling goes with run_state_done()). */
        if (s->opt.watch)
                close(s->reloader.reader.fd);
        if (w.broker < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, w.broker, "cannot start the broker");
        close(TAKE_FD(broker_end));

        c->mode = s->opt.mode;
        c->start = start;
        w.command = run_child_spawn(c);
        if (w.command < 0)
                oh_die_errno(OH_EXIT_RUN_FAILED, w.command, "cannot start COMMAND");
        close(TAKE_FD(command_end));

        /* The command has executed (or failed), leaving its listener in
         * our fd table (run_command.c): the broker takes it from there
         * once it is confined, so the two start-ups overlap, the
         * command's first notified call waits for the broker, and a broker
         * that could not confine itself never serves anyone (our copy of
         * the listener closed, what the command calls fails). */
        int failed = run_child_started(c);
        r = run_broker_ready(start);
        if (r == 0 && c->announced)     /* also where execve failed: it takes them */
                r = run_broker_taken(start);
        run_child_close(c);
        close(TAKE_FD(start));
        if (r < 0 && r != -EPIPE) {
                kill(w.command, SIGKILL);
                return OH_EXIT_RUN_FAILED;
        }
        if (r == -EPIPE || failed == -EPIPE)
                return broker_gone_at_start(&w, mask);

        /* From here on we only wait, pass signals on and reap, which our
         * own user may do.  The broker shares our Landlock floor and keeps
         * CAP_SYS_PTRACE (it reads the command's memory), so it could
         * reach ours: a broker taken over past its own checks must find
         * here no capability it has not dropped itself. */
        r = run_drop_capabilities();
        if (r < 0)
                oh_warn("cannot drop run's own capabilities: %s", strerror(-r));
        wait_all(&w, mask, s->learn != NULL);
        if (failed)
                return failed;
        if (w.broker_died)
                return OH_EXIT_RUN_FAILED;
        if (s->learn && w.broker_status != 0)
                return OH_EXIT_RUN_FAILED;
        return w.command_status < 0 ? OH_EXIT_RUN_FAILED : w.command_status;
}

int cmd_run(int argc, char **argv)
{
        struct run_state s = {
                .opt = {
                        .pol = OH_CLI_POLICY_INIT("run", OH_EXIT_RUN_FAILED, OH_EXIT_RUN_FAILED),
                        .default_direct = true,
                        .private_tmp = true,
                },
                .learn_fd = -1,
                .child = { .ruleset = -1, .status_fd = -1, .status_read = -1 },
        };
        sigset_t mask, old_mask;

        /* Deepest before the fork: the policy's path walks, ~70 KiB. */
        run_prefault(80 * 1024, true);
        parse_options(&s.opt, argc, argv);
        prepare(&s);

        /* Blocked before the first fork, so no signal or child exit can be
         * missed; the children restore the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_BLOCK, &mask, &old_mask);

        int status = launch(&s, &mask, &old_mask);
        /* Our memory is shared copy-on-write with the broker, which may
         * still run: freeing it, and the exit handlers, would copy each
         * page they write (60-90 us a page on our VM) on the way out,
         * while the kernel takes it all back at once.  Only a leak checker
         * wants it freed. */
        if (!OH_ASAN) {
                if (__fpending(stdout) > 0)
                        fflush(stdout);
                _exit(status);
        }
        run_state_done(&s);
        return status;
}

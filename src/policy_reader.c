/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "policy.h"
#include "policy_reader.h"
#include "util.h"

#define FILE_MAX (1u << 20)             /* as the policy parser's limit */
#define SETTLE_MS 50                    /* changes this close together are one */

/* ---- Both sides: whole reads and writes -------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, (const char *)buf + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? oh_negerrno() : -EIO;
                done += (size_t)n;
        }
        return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
        for (size_t done = 0; done < len;) {
                ssize_t n = read(fd, (char *)buf + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        return -EPIPE;
                if (n < 0)
                        return oh_negerrno();
                done += (size_t)n;
        }
        return 0;
}

/* ---- The reader ---------------------------------------------------------- */

static int slurp(const char *file, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        return fd < 0 ? oh_negerrno() : oh_policy_read_fd(fd, ret, ret_len);
}

static int send_snapshot(int sock, const char *const *files, size_t n)
{
        uint32_t count = (uint32_t)n;
        int r = write_all(sock, &count, sizeof count);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int32_t status = slurp(files[i], &text, &len);
                uint32_t len32 = status < 0 ? 0 : (uint32_t)len;

                r = write_all(sock, &status, sizeof status);
                if (r >= 0)
                        r = write_all(sock, &len32, sizeof len32);
                if (r >= 0 && len32)
                        r = write_all(sock, text, len32);
        }
        return r;
}

/* Each file's directory: a save by rename replaces the file's inode, which
 * a watch on the file itself would lose. */
static int watch_dirs(const char *const *files, size_t n)
{
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

        if (fd < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char copy[PATH_MAX];

                snprintf(copy, sizeof copy, "%s", files[i]);
                (void)inotify_add_watch(fd, dirname(copy), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
                                        IN_DELETE | IN_MODIFY | IN_ATTRIB);
        }
        return fd;
}

/* Whether the events waiting on FD name one of FILES (by base name: a
 * change beside them in the same directory is not theirs). */
static bool drain_events(int fd, const char *const *files, size_t n)
{
        char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool ours = false;
        ssize_t len;

        while ((len = read(fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + len;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;

                        for (size_t i = 0; ev->len && i < n; i++) {
                                const char *slash = strrchr(files[i], '/');

                                if (strcmp(ev->name, slash ? slash + 1 : files[i]) == 0)
                                        ours = true;
                        }
                        p += sizeof *ev + ev->len;
                }
        return ours;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A change to our files is sent once they have been quiet for SETTLE_MS;
 * changes to other files in the same directories (a log written there)
 * do not push that back. */
static noreturn void reader_main(int sock, const char *const *files, size_t n, bool watch)
{
        int in = watch ? watch_dirs(files, n) : -1;
        int64_t due = -1;               /* when to send, or -1 */

        /* Watching from here on: a change made once the broker is up is
         * never missed. */
        if (write_all(sock, "W", 1) < 0)
                _exit(0);

        for (;;) {
                struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = in, .events = POLLIN } };
                int wait = due < 0 ? -1 : (int)(due > now_ms() ? due - now_ms() : 0);
                int k = poll(p, in >= 0 ? 2 : 1, wait);
                char c;

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        _exit(1);
                if (due >= 0 && now_ms() >= due) {
                        due = -1;
                        if (send_snapshot(sock, files, n) < 0)
                                _exit(0);
                }
                if (k > 0 && (p[1].revents & POLLIN) && drain_events(in, files, n))
                        due = now_ms() + SETTLE_MS;
                if (k <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                if (read(sock, &c, 1) != 1)
                        _exit(0);       /* the broker has gone */
                if (send_snapshot(sock, files, n) < 0)
                        _exit(0);
        }
}

int oh_policy_reader_start(const char *const *files, size_t n, bool watch, struct oh_policy_reader *ret)
{
        int ours = -1, theirs = -1;
        pid_t pid = oh_fork_helper(SOCK_STREAM, &ours, &theirs);

        *ret = (struct oh_policy_reader) { .fd = -1 };
        if (pid < 0)
                return pid;
        if (pid == 0) {
                /* Ends with the broker, not with a ^C or a HUP meant for it. */
                signal(SIGINT, SIG_IGN);
                signal(SIGTERM, SIG_IGN);
                signal(SIGHUP, SIG_IGN);
                signal(SIGPIPE, SIG_IGN);
                if (dup2(theirs, 3) < 0)
                        _exit(1);
                syscall(SYS_close_range, 4, ~0U, 0);
                reader_main(3, files, n, watch);
        }
        *ret = (struct oh_policy_reader) { .fd = ours, .pid = pid };
        return 0;
}

int oh_policy_reader_ready(struct oh_policy_reader *r)
{
        char ready;

        if (r->fd < 0 || r->ready)
                return 0;
        int k = read_all(r->fd, &ready, 1);
        if (k < 0) {
                close(r->fd);
                waitpid(r->pid, NULL, 0);
                *r = (struct oh_policy_reader) { .fd = -1 };
                return k == -EPIPE ? -ECHILD : k;
        }
        r->ready = true;
        return 0;
}

/* ---- The broker's side ------------------------------------------------------ */

void oh_policy_snapshot_done(struct oh_policy_snapshot *snap)
{
        for (size_t i = 0; snap->files && i < snap->n; i++)
                free(snap->files[i].text);
        free(snap->files);
        *snap = (struct oh_policy_snapshot) {};
}

static int read_file(int fd, struct oh_policy_file *f)
{
        int32_t status;
        uint32_t len;
        int r = read_all(fd, &status, sizeof status);

        if (r >= 0)
                r = read_all(fd, &len, sizeof len);
        if (r < 0)
                return r;
        if (len > FILE_MAX || (status < 0 && len) || status > 0)
                return -EPROTO;
        f->status = status;
        f->len = len;
        f->text = malloc(len ? len : 1);
        if (!f->text)
                return -ENOMEM;
        return read_all(fd, f->text, len);
}

int oh_policy_snapshot_read(int fd, const char *const *files, size_t n, struct oh_policy_snapshot *snap)
{
        uint32_t count;
        int r = read_all(fd, &count, sizeof count);

        *snap = (struct oh_policy_snapshot) {};
        if (r < 0)
                return r;
        if (count != n)
                return -EPROTO;
        snap->files = calloc(n ? n : 1, sizeof *snap->files);
        if (!snap->files)
                return -ENOMEM;
        snap->n = n;
        for (size_t i = 0; i < n; i++) {
                snap->files[i].name = files[i];
                r = read_file(fd, &snap->files[i]);
                if (r < 0) {
                        oh_policy_snapshot_done(snap);
                        return r;
                }
        }
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A tiny management daemon that embeds the openhook broker in its own
 * poll() loop, next to its other duties (here: a command channel on stdin
 * and SIGTERM).  It shows the embedding API of include/openhook.h:
 *
 *     openhook_server_add()      adopt a connected client socket
 *     openhook_conn_fd()/events() what to poll for
 *     openhook_conn_process()    do the work; < 0 means finished
 *     openhook_server_set_add_conn()  adopt connections made by CONNECT
 *
 * Usage: embed-server SOCKET PERMS:PATH...
 *   e.g. embed-server /tmp/oh.sock rw:/srv/data/ r:/usr/share/
 * Commands on stdin: "status", "quit".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "openhook.h"

#define MAX_CONNS 1000

struct daemon {
        struct openhook_conn *conns[MAX_CONNS];
        int nconns;
        unsigned long decisions, denials;
};

static void on_decision(const struct openhook_decision *d, void *userdata)
{
        struct daemon *dm = userdata;

        dm->decisions++;
        dm->denials += d->denied != 0;
        fprintf(stderr, "pid %d cmd %u %s%s%s -> %d%s%s\n", (int) d->pid, d->command,
                d->path ? d->path : "", d->path2 ? " " : "", d->path2 ? d->path2 : "",
                d->result, d->hint ? "  # " : "", d->hint ? d->hint : "");
}

/* Also the add_conn callback: CONNECT creates connections mid-request. */
static int adopt(struct openhook_conn *conn, void *userdata)
{
        struct daemon *dm = userdata;

        if (dm->nconns == MAX_CONNS)
                return -EMFILE;
        dm->conns[dm->nconns++] = conn;
        return 0;
}

static int listen_on(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Returns 1 to go on, 0 to quit, -1 when stdin has closed (a daemon
 * started without a terminal goes on serving). */
static int management(struct daemon *dm)
{
        char line[128];

        if (!fgets(line, sizeof(line), stdin))
                return -1;
        if (strncmp(line, "status", 6) == 0)
                printf("connections %d decisions %lu denials %lu\n", dm->nconns, dm->decisions, dm->denials);
        else if (strncmp(line, "quit", 4) == 0)
                return 0;
        else
                printf("commands: status, quit\n");
        fflush(stdout);
        return 1;
}

static void accept_clients(struct openhook_server *server, struct daemon *dm, int lfd)
{
        for (;;) {
                struct openhook_conn *conn;
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                if (openhook_server_add(server, fd, &conn) < 0)
                        continue;
                if (adopt(conn, dm) < 0)
                        openhook_conn_free(conn);
        }
}

static int serve(struct openhook_server *server, struct daemon *dm, int lfd, int sigfd)
{
        enum { P_LISTEN, P_STDIN, P_SIGNAL, P_FIRST };
        static struct pollfd p[P_FIRST + MAX_CONNS];
        int in = STDIN_FILENO;

        for (;;) {
                int n = dm->nconns;

                p[P_LISTEN] = (struct pollfd) { .fd = lfd, .events = POLLIN };
                p[P_STDIN] = (struct pollfd) { .fd = in, .events = POLLIN };
                p[P_SIGNAL] = (struct pollfd) { .fd = sigfd, .events = POLLIN };
                for (int i = 0; i < n; i++)
                        p[P_FIRST + i] = (struct pollfd) {
                                .fd = openhook_conn_fd(dm->conns[i]),
                                .events = (short) openhook_conn_events(dm->conns[i]),
                        };
                if (poll(p, (nfds_t) (P_FIRST + n), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[P_SIGNAL].revents)
                        return 0;
                if (p[P_STDIN].revents) {
                        int r = management(dm);
                        if (r == 0)
                                return 0;
                        if (r < 0)
                                in = -1;
                }

                /* Backwards, so a finished connection can be replaced by the
                 * last one; connections adopted during this pass (CONNECT)
                 * sit beyond n and are polled next time. */
                for (int i = n - 1; i >= 0; i--) {
                        if (!p[P_FIRST + i].revents)
                                continue;
                        if (openhook_conn_process(dm->conns[i]) < 0) {
                                openhook_conn_free(dm->conns[i]);
                                dm->conns[i] = dm->conns[--dm->nconns];
                        }
                }
                if (p[P_LISTEN].revents)
                        accept_clients(server, dm, lfd);
        }
}

int main(int argc, char **argv)
{
        static struct daemon dm;
        struct openhook_policy *policy = NULL;
        struct openhook_server *server = NULL;
        sigset_t mask;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s SOCKET PERMS:PATH...\n", argv[0]);
                return 2;
        }
        if (openhook_policy_new(&policy) < 0)
                return 1;
        for (int i = 2; i < argc; i++) {
                char *error = NULL;
                if (openhook_policy_allow_arg(policy, argv[i], &error) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[0], error ? error : argv[i]);
                        return 2;
                }
        }

        /* SIGTERM/SIGINT become a readable fd: no handler, no race. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        int lfd = listen_on(argv[1]);
        if (lfd < 0 || sigfd < 0) {
                fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(lfd < 0 ? -lfd : errno));
                return 1;
        }
        if (openhook_server_new(policy, &server) < 0)
                return 1;
        openhook_server_set_log(server, on_decision, &dm);
        openhook_server_set_add_conn(server, adopt, &dm);

        r = serve(server, &dm, lfd, sigfd);

        while (dm.nconns > 0)
                openhook_conn_free(dm.conns[--dm.nconns]);
        openhook_server_free(server);
        openhook_policy_free(policy);
        close(lfd);
        unlink(argv[1]);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[0], strerror(-r));
                return 1;
        }
        return 0;
}

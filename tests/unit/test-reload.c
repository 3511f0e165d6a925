/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* openhook_server_set_policy() while workers answer: every request is
 * decided wholly under one policy, answers always match one of the two,
 * nothing crashes and no fd leaks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdcount.h"
#include "openhook.h"
#include "tap.h"

#define SWAPS 1000
#define CLIENTS 3

struct fixture {
        char dir[64];
        char x[128], y[128], moved[128], f[128], g[128];
        struct openhook_policy *a;      /* the policy in force once the storm is over */
        struct openhook_server *server;
        int inherited;                  /* the client end served by the loop */
        atomic_bool stop;
        atomic_int mixed;               /* renames that only a mixture allows */
        atomic_int wrong;               /* answers neither policy gives */
        atomic_int f_allowed, f_refused;
};

static struct openhook_policy *policy_of(const char *const *rules)
{
        struct openhook_policy *p;
        char *error = NULL;

        if (openhook_policy_new(&p) < 0)
                abort();
        for (; rules[0]; rules += 2)
                if (openhook_policy_allow(p, rules[0], rules[1], &error) < 0) {
                        printf("# %s\n", error ? error : "?");
                        abort();
                }
        return p;
}

static struct openhook_policy *policy_a(const struct fixture *fx)
{
        return policy_of((const char *const[]) { "d", fx->x, "r", fx->f, NULL });
}

static struct openhook_policy *policy_b(const struct fixture *fx)
{
        return policy_of((const char *const[]) { "c", fx->y, NULL });
}

/* A grants d on X and r on F; B grants c in Y/.  Moving X into Y needs d
 * at X and c in Y: refused under either, allowed only by a mixture. */
static void prepare(struct fixture *fx)
{
        char y[128];

        snprintf(fx->dir, sizeof fx->dir, "/tmp/oh-reload-XXXXXX");
        if (!mkdtemp(fx->dir))
                abort();
        snprintf(fx->x, sizeof fx->x, "%s/x", fx->dir);
        snprintf(y, sizeof y, "%s/y/", fx->dir);
        snprintf(fx->moved, sizeof fx->moved, "%s/y/x", fx->dir);
        snprintf(fx->f, sizeof fx->f, "%s/f", fx->dir);
        snprintf(fx->g, sizeof fx->g, "%s/g", fx->dir);
        mkdir(y, 0700);
        for (const char *p = fx->x; p; p = p == fx->x ? fx->f : p == fx->f ? fx->g : NULL)
                close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        snprintf(fx->y, sizeof fx->y, "%s", y);
        fx->a = policy_a(fx);
}

static void *client(void *userdata)
{
        struct fixture *fx = userdata;
        int sock = openhook_new_connection(fx->inherited);

        if (sock < 0) {
                atomic_fetch_add(&fx->wrong, 1);
                return NULL;
        }
        while (!atomic_load(&fx->stop)) {
                int r = openhook_rename(sock, fx->x, fx->moved, 0);

                if (r == 0)
                        atomic_fetch_add(&fx->mixed, 1);
                else if (r != -EACCES)
                        atomic_fetch_add(&fx->wrong, 1);
                r = openhook_open(sock, fx->f, O_RDONLY | O_CLOEXEC, 0);
                if (r >= 0) {
                        close(r);
                        atomic_fetch_add(&fx->f_allowed, 1);
                } else if (r == -EACCES) {
                        atomic_fetch_add(&fx->f_refused, 1);
                } else {
                        atomic_fetch_add(&fx->wrong, 1);
                }
                r = openhook_open(sock, fx->g, O_RDONLY | O_CLOEXEC, 0);
                if (r >= 0)
                        close(r);
                if (r != -EACCES)
                        atomic_fetch_add(&fx->wrong, 1);
        }
        close(sock);
        return NULL;
}

struct loop {
        int sock;
        struct openhook_server *server;
};

static void *serve(void *userdata)
{
        struct loop *l = userdata;

        openhook_server_run(l->server, l->sock, 0, 2);
        return NULL;
}

/* Each swap brings a policy made for it and frees the one it replaced
 * as soon as set_policy() returns: a request still deciding under it
 * would be a use after free (ASan builds report it). */
static void swap_storm(struct fixture *fx)
{
        struct openhook_policy *current = fx->a;

        fx->a = NULL;
        for (int i = 0; i < SWAPS; i++) {
                struct openhook_policy *next = i % 2 ? policy_a(fx) : policy_b(fx);

                CHECK_EQ(openhook_server_set_policy(fx->server, next), 0);
                openhook_policy_free(current);
                current = next;
                nanosleep(&(struct timespec) { .tv_nsec = 50000 }, NULL);
        }
        fx->a = current;
}

static void storm_under_load(void)
{
        struct fixture fx = {};
        struct loop loop;
        pthread_t clients[CLIENTS], server_thread;
        int pair[2];

        prepare(&fx);
        CHECK_EQ(openhook_server_new(fx.a, &fx.server), 0);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                abort();
        fx.inherited = pair[0];
        loop.sock = pair[1];
        loop.server = fx.server;
        pthread_create(&server_thread, NULL, serve, &loop);
        for (int i = 0; i < CLIENTS; i++)
                pthread_create(&clients[i], NULL, client, &fx);

        swap_storm(&fx);
        atomic_store(&fx.stop, true);
        for (int i = 0; i < CLIENTS; i++)
                pthread_join(clients[i], NULL);
        close(fx.inherited);
        pthread_join(server_thread, NULL);
        close(loop.sock);

        printf("# %d opens allowed, %d refused by the other policy\n", atomic_load(&fx.f_allowed),
               atomic_load(&fx.f_refused));
        CHECK_EQ(atomic_load(&fx.mixed), 0);
        CHECK_EQ(atomic_load(&fx.wrong), 0);
        CHECK(atomic_load(&fx.f_allowed) > 0);
        CHECK(atomic_load(&fx.f_refused) > 0);
        CHECK(access(fx.x, F_OK) == 0 && access(fx.moved, F_OK) < 0);
        openhook_server_free(fx.server);
        openhook_policy_free(fx.a);
        unlink(fx.x);
        unlink(fx.f);
        unlink(fx.g);
        unlink(fx.moved);
        snprintf(fx.moved, sizeof fx.moved, "%s/y", fx.dir);
        rmdir(fx.moved);
        rmdir(fx.dir);
}

/* Twice: the resolver keeps an fd of "/" from its first request on, so
 * leaks show as a count that grows from one storm to the next. */
static void swaps_under_load_never_mix_two_policies(void)
{
        int after_first;

        storm_under_load();
        after_first = count_fds();
        storm_under_load();
        CHECK_EQ(count_fds(), after_first);
}

static void set_policy_refuses_null(void)
{
        struct openhook_policy *p = policy_of((const char *const[]) { "r", "/tmp/", NULL });
        struct openhook_server *s;

        CHECK_EQ(openhook_server_new(p, &s), 0);
        CHECK_EQ(openhook_server_set_policy(s, NULL), -EINVAL);
        CHECK_EQ(openhook_server_set_policy(NULL, p), -EINVAL);
        openhook_server_free(s);
        openhook_policy_free(p);
}

int main(void)
{
        alarm(100);
        RUN(swaps_under_load_never_mix_two_policies);
        RUN(set_policy_refuses_null);
        return TAP_DONE();
}

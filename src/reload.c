/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy.h"
#include "reload.h"
#include "util.h"

int oh_reloader_start_reader(struct oh_reloader *r, bool watch)
{
        r->reader = (struct oh_policy_reader) { .fd = -1 };
        if (r->cli->n_files == 0)
                return 0;
        return oh_policy_reader_start(r->cli->files, r->cli->n_files, watch, &r->reader);
}

/* RULES: those in force afterwards, the old ones after a refusal. */
static void report(const struct oh_reloader *r, const char *error)
{
        size_t rules;

        oh_policy_rules(r->current, &rules);
        oh_decision_log_reload(r->log, r->cli->files, r->cli->n_files, rules, error);
        if (error) {
                /* One line per problem, as at start. */
                for (const char *line = error, *end; *line; line = end + (*end != '\0')) {
                        end = strchrnul(line, '\n');
                        oh_warn("reload refused, the policy in force stays: %.*s", (int)(end - line), line);
                }
        } else if (!r->quiet) {
                oh_warn("policy reloaded: %zu rules", rules);
        }
}

static int swap_in(struct oh_reloader *r, struct openhook_policy *next)
{
        char why[OPENHOOK_PATH_MAX + 128];
        int k = oh_ceiling_check(r->ceiling, next, why, sizeof why);

        if (k < 0) {
                report(r, k == -EPERM ? why : strerror(-k));
                return k;
        }
        k = openhook_server_set_policy(r->server, next);
        if (k < 0) {
                report(r, strerror(-k));
                return k;
        }
        /* No request decides under the old policy any more. */
        openhook_policy_free(r->current);
        r->current = next;
        report(r, NULL);
        return 0;
}

static void reload_once(struct oh_reloader *r, const struct oh_policy_snapshot *snap)
{
        struct openhook_policy *next = NULL;
        _cleanup_free_ char *error = NULL;
        int k = oh_cli_policy_rebuild(r->cli, snap, &next, &error);

        if (k < 0) {
                report(r, error ? error : strerror(-k));
                return;
        }
        if (r->adjust)
                r->adjust(next, r->adjust_data);
        /* What the sandbox created in t directories stays its own. */
        oh_policy_share_created(next, r->current);
        if (swap_in(r, next) < 0)
                openhook_policy_free(next);
}

static void *reload_thread(void *userdata)
{
        struct oh_reloader *r = userdata;

        for (;;) {
                struct oh_policy_snapshot snap;
                int k = oh_policy_snapshot_read(r->reader.fd, r->cli->files, r->cli->n_files, &snap);

                if (k < 0)
                        break;          /* the reader has gone, or we are stopping */
                reload_once(r, &snap);
                oh_policy_snapshot_done(&snap);
        }
        return NULL;
}

int oh_reloader_start(struct oh_reloader *r)
{
        int k = oh_policy_reader_ready(&r->reader);

        if (k < 0 || r->reader.fd < 0)
                return k;
        k = -pthread_create(&r->thread, NULL, reload_thread, r);

        r->running = k == 0;
        return k;
}

void oh_reloader_request(const struct oh_reloader *r)
{
        char c = OH_READER_REQUEST;

        if (r->reader.fd >= 0)
                (void)!write(r->reader.fd, &c, 1);
}

void oh_reloader_stop(struct oh_reloader *r)
{
        if (r->reader.fd >= 0) {
                /* The thread's read ends, and so does the reader. */
                shutdown(r->reader.fd, SHUT_RDWR);
                if (r->running)
                        pthread_join(r->thread, NULL);
                close(r->reader.fd);
                waitpid(r->reader.pid, NULL, 0);
        }
        r->reader.fd = -1;
        r->running = false;
        openhook_policy_free(r->current);
        r->current = NULL;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live policy for a broker (openhook serve and openhook run): a thread
 * takes each snapshot of the --policy files the reader sends
 * (policy_reader.h), builds the policy the command line gives with them,
 * checks it against the ceiling (ceiling.h) and swaps it in with
 * openhook_server_set_policy().  A policy with an error, or beyond the
 * ceiling, is refused and the old one stays; each attempt is a JSON line
 * in the log and a line on stderr. */
#ifndef OH_RELOAD_H
#define OH_RELOAD_H

#include <pthread.h>
#include <stdbool.h>

#include "ceiling.h"
#include "cli.h"
#include "decision_log.h"
#include "policy_reader.h"

struct oh_reloader {
        const struct oh_cli_policy *cli;        /* the options, and the --policy files */
        const struct oh_ceiling *ceiling;
        struct openhook_server *server;
        struct openhook_policy *current;        /* owned: in force */
        struct oh_decision_log *log;
        bool quiet;                             /* no success lines on stderr */
        /* Called on every policy built (the start one included by the
         * caller), for settings beyond the rules. */
        void (*adjust)(struct openhook_policy *p, void *userdata);
        void *adjust_data;
        struct oh_policy_reader reader;
        pthread_t thread;
        bool running;
};

/* Starts the reader (before the broker confines itself: it must open the
 * files) for R->cli's files; R->current is the start policy, now owned by
 * R.  Without --policy files there is nothing to read again: 0 and no
 * reader.  The reader is waited for by oh_reloader_start().  0 or
 * -errno. */
int oh_reloader_start_reader(struct oh_reloader *r, bool watch);

/* Waits until the reader watches the files, then starts the thread, once
 * the server exists (and the broker is confined), before it serves.
 * 0 or -errno (-ECHILD: the reader is gone). */
int oh_reloader_start(struct oh_reloader *r);

/* Async-signal-safe: asks for a reload (SIGHUP). */
void oh_reloader_request(const struct oh_reloader *r);

/* Ends the thread and the reader, and frees the policy in force: call
 * once the server no longer runs. */
void oh_reloader_stop(struct oh_reloader *r);

#endif

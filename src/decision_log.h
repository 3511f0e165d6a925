/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the broker tells about its decisions: one JSON object per line in
 * the --log file, and a line a person can act on for each denial on
 * stderr.
 *
 * The JSON line (keys in this order):
 *   {"time":"2024-05-01T12:00:00.123Z","pid":42,"command":"open",
 *    "command_number":1,"path":"/data/x","path2":null,"flags":1,
 *    "flag_names":["O_WRONLY"],"mode":0,"decision":"deny",
 *    "errno":"EACCES","errno_number":13,"hint":"--allow w:/data/x"}
 * time is RFC 3339 UTC with milliseconds; decision is "allow", "deny" (the
 * policy refused) or "error" (allowed, but the operation failed); errno is
 * null and errno_number 0 when allowed; "hint" (denials: the rule that
 * would allow it) or "reason" (errors: what was wrong) is present when the
 * server gave one.  A connection closed for bad framing is logged with
 * errno "EPROTO".
 * Strings are JSON-escaped byte by byte; a byte that is not part of valid
 * UTF-8 is written as \udcXX (Python's "surrogateescape"), so the exact
 * bytes of a path can be recovered.
 *
 * The callback may be called from many threads at once: each line is
 * built in memory and written with a single write() to an O_APPEND file,
 * so lines never interleave.
 */
#ifndef OH_DECISION_LOG_H
#define OH_DECISION_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "openhook.h"

struct oh_decision_log;

enum {
        OH_DECISION_LOG_QUIET = 1u << 0,        /* no denial lines on stderr */
};

/* Opens FILE for appending (created 0600 if missing; NULL: no JSON log).
 * Returns 0 or -errno. */
int oh_decision_log_new(const char *file, unsigned int flags, struct oh_decision_log **ret);
void oh_decision_log_free(struct oh_decision_log *log);

/* An openhook_log_fn: pass it with the log as USERDATA to
 * openhook_server_set_log() or oh_seccomp_supervise(). */
void oh_decision_log_write(const struct openhook_decision *d, void *userdata);

/* One JSON line for a policy reload (reload.c): the files read again, the
 * number of rules in force afterwards, and ERROR (NULL when the new policy
 * took effect; else why the old one stays). */
void oh_decision_log_reload(struct oh_decision_log *log, const char *const *files, size_t n, size_t rules,
                            const char *error);

#endif

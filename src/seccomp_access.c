/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* access, faccessat and faccessat2, notified in every mode: Landlock does
 * not govern them, so the kernel alone would answer by the file's mode and
 * say yes for files the broker refuses to open (/etc/shadow as root).  The
 * broker answers by the rules open() meets (oh_do_access()), as it does
 * the shim's ACCESS.
 *
 * The direct set is the kernel's to answer, as its opens are: reads and
 * executes, and writes to its devices (the shim's rule).  CONTINUE is safe
 * here whatever the program does to the path meanwhile: access(2) tells
 * nothing stat(2) does not, and changes nothing. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seccomp_internal.h"

static bool kernel_answers(const struct sc_call *c)
{
        struct stat st;

        if (!sc_direct_eligible(c))
                return false;
        return !(c->mode & W_OK) || (stat(c->path[0], &st) == 0 && S_ISCHR(st.st_mode));
}

int sc_act_access(struct sc_call *c)
{
        struct oh_verdict v = {};
        int r;

        /* fetch_own_fd(): the program's own pipe or socket. */
        if (c->cont)
                return 0;
        if (kernel_answers(c)) {
                c->cont = true;
                return 0;
        }
        /* With a name, AT_EMPTY_PATH means nothing. */
        r = oh_do_access(c->sv->policy, c->path[0], c->mode, c->flags & ~(uint32_t)AT_EMPTY_PATH, &v);
        sc_log(c, OPENHOOK_CMD_ACCESS, r, &v);
        return r;
}

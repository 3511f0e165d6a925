/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ownership helpers in the style of systemd: a variable marked
 * _cleanup_close_ or _cleanup_free_ is released on every return path;
 * TAKE_FD/TAKE_PTR hand ownership out explicitly. */
#ifndef OH_UTIL_H
#define OH_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void oh_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void oh_freep(void *p)
{
        free(*(void **)p);
}

#define _cleanup_close_ __attribute__((cleanup(oh_closep)))
#define _cleanup_free_ __attribute__((cleanup(oh_freep)))

#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Returns -errno for the last failing libc call, never 0. */
static inline int oh_negerrno(void)
{
        return errno > 0 ? -errno : -EIO;
}

#endif

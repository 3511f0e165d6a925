/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watching the program close or replace descriptors, so the shim never
 * talks to a number that now means some other file.  A closed private
 * socket is replaced on the next call; a closed inherited socket cannot be:
 * a process left with neither makes its calls through libc, where Landlock
 * (preload mode) or the seccomp supervisor decides them. */
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "shim.h"

SHIM_EXPORT int close(int fd)
{
        if (fd >= 0)
                shim_fds_closing((unsigned int) fd, (unsigned int) fd);
        return REAL(close)(fd);
}

SHIM_EXPORT void closefrom(int lowfd)
{
        if (lowfd >= 0)
                shim_fds_closing((unsigned int) lowfd, UINT_MAX);
        REAL(closefrom)(lowfd);
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
        /* CLOSE_RANGE_CLOEXEC only marks them; nothing closes now. */
        if (!(flags & CLOSE_RANGE_CLOEXEC))
                shim_fds_closing(first, last);
        return REAL(close_range)(first, last, flags);
}

static void replacing(int oldfd, int newfd)
{
        /* dup2(fd, fd) closes nothing. */
        if (newfd >= 0 && oldfd != newfd && fcntl(oldfd, F_GETFD) >= 0)
                shim_fds_closing((unsigned int) newfd, (unsigned int) newfd);
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
        replacing(oldfd, newfd);
        return REAL(dup2)(oldfd, newfd);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
        replacing(oldfd, newfd);
        return REAL(dup3)(oldfd, newfd, flags);
}

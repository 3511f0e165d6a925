/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether the running kernel is at least MAJOR.MINOR, for behaviour no
 * call can probe without doing what is asked (the ABI of Landlock and
 * seccomp is asked of the kernel instead, where it can tell). */
#ifndef OH_KERNEL_VERSION_H
#define OH_KERNEL_VERSION_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/utsname.h>

static inline bool oh_kernel_at_least(unsigned int major, unsigned int minor)
{
        unsigned int a, b;
        struct utsname u;

        return uname(&u) == 0 && sscanf(u.release, "%u.%u", &a, &b) == 2 && (a > major || (a == major && b >= minor));
}

#endif

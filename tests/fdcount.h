/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For the unit tests that check nothing leaks: this process's open fds. */
#ifndef OH_TEST_FDCOUNT_H
#define OH_TEST_FDCOUNT_H

#include <dirent.h>

/* The entries of /proc/self/fd (the listing's own fd included), or -1. */
static inline int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        if (!d)
                return -1;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

#endif

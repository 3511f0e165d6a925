/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Temporary files: glibc creates them with internal calls, so the shim makes
 * the random names itself and asks the broker for O_CREAT|O_EXCL (or
 * mkdir), retrying on EEXIST. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define TMP_ATTEMPTS 100

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static void fill_random(char *x)
{
        unsigned char rnd[6];

        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd)) {
                /* No entropy yet: the clock and an address still vary, and
                 * O_EXCL makes a collision only cost a retry. */
                struct timespec ts;
                unsigned long v;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                v = (unsigned long) ts.tv_nsec ^ (unsigned long) ts.tv_sec ^ (unsigned long) (uintptr_t) &ts ^
                    (unsigned long) getpid() << 16;
                for (size_t i = 0; i < sizeof(rnd); i++, v = v * 6364136223846793005ul + 1442695040888963407ul)
                        rnd[i] = (unsigned char) (v >> 33);
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
                x[i] = letters[rnd[i] % (sizeof(letters) - 1)];
}

/* The six X's of TEMPLATE, which ends with SUFFIXLEN more characters. */
static char *template_xs(char *template, int suffixlen)
{
        size_t len;

        if (!template || suffixlen < 0)
                return NULL;
        len = strlen(template);
        if (len < 6 + (size_t) suffixlen)
                return NULL;
        if (memcmp(template + len - suffixlen - 6, "XXXXXX", 6) != 0)
                return NULL;
        return template + len - suffixlen - 6;
}

/* Creates a file (DIR false) or directory from TEMPLATE; returns the fd, 0
 * for a directory, or -errno.  The template is rewritten with the name. */
static int make_temp(char *template, int suffixlen, int flags, bool dir)
{
        char *x = template_xs(template, suffixlen);
        int r = -EEXIST;

        if (!x)
                return -EINVAL;
        for (int i = 0; i < TMP_ATTEMPTS && r == -EEXIST; i++) {
                fill_random(x);
                if (dir)
                        r = shim_mkdirat(AT_FDCWD, template, 0700);
                else
                        r = shim_openat(AT_FDCWD, template, O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE), 0600);
        }
        return r;
}

/* Libc's own call, used when the shim is off. */
#define TEMP_ENTRY(expr_real, template, suffixlen, flags) \
        (shim_enabled() ? SHIM_ERRNO(make_temp(template, suffixlen, flags, false)) : (expr_real))

SHIM_EXPORT int mkstemp(char *template)
{
        return TEMP_ENTRY(REAL(mkstemp)(template), template, 0, 0);
}

SHIM_EXPORT int mkstemp64(char *template)
{
        return TEMP_ENTRY(REAL(mkstemp64)(template), template, 0, 0);
}

SHIM_EXPORT int mkostemp(char *template, int flags)
{
        return TEMP_ENTRY(REAL(mkostemp)(template, flags), template, 0, flags);
}

SHIM_EXPORT int mkostemp64(char *template, int flags)
{
        return TEMP_ENTRY(REAL(mkostemp64)(template, flags), template, 0, flags);
}

SHIM_EXPORT int mkstemps(char *template, int suffixlen)
{
        return TEMP_ENTRY(REAL(mkstemps)(template, suffixlen), template, suffixlen, 0);
}

SHIM_EXPORT int mkstemps64(char *template, int suffixlen)
{
        return TEMP_ENTRY(REAL(mkstemps64)(template, suffixlen), template, suffixlen, 0);
}

SHIM_EXPORT int mkostemps(char *template, int suffixlen, int flags)
{
        return TEMP_ENTRY(REAL(mkostemps)(template, suffixlen, flags), template, suffixlen, flags);
}

SHIM_EXPORT int mkostemps64(char *template, int suffixlen, int flags)
{
        return TEMP_ENTRY(REAL(mkostemps64)(template, suffixlen, flags), template, suffixlen, flags);
}

SHIM_EXPORT char *mkdtemp(char *template)
{
        int r;

        if (!shim_enabled())
                return REAL(mkdtemp)(template);
        r = SHIM_ERRNO(make_temp(template, 0, 0, true));
        return r < 0 ? NULL : template;
}

/* An anonymous file: O_TMPFILE where the broker allows it, else a named file
 * removed at once. */
static int anonymous_file(void)
{
        const char *dir = getenv("TMPDIR");
        char name[PATH_MAX];
        int fd;

        if (!dir || dir[0] != '/' || strlen(dir) > PATH_MAX - 32)
                dir = "/tmp";
        fd = shim_openat(AT_FDCWD, dir, O_TMPFILE | O_RDWR, 0600);
        if (fd >= 0)
                return fd;
        snprintf(name, sizeof(name), "%s/tmpfXXXXXX", dir);
        fd = make_temp(name, 0, 0, false);
        if (fd >= 0)
                (void) shim_unlinkat(AT_FDCWD, name, 0);
        return fd;
}

static FILE *shim_tmpfile(FILE *(*real)(void))
{
        int fd, saved = errno;

        if (!shim_enabled())
                return real();
        fd = anonymous_file();
        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        return shim_adopt_fd(fd, fdopen(fd, "w+"), saved);
}

SHIM_EXPORT FILE *tmpfile(void)
{
        return shim_tmpfile(REAL(tmpfile));
}

SHIM_EXPORT FILE *tmpfile64(void)
{
        return shim_tmpfile(REAL(tmpfile64));
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fopen and freopen: glibc opens their files with internal calls the shim
 * cannot see, so they are rebuilt on shim_openat() and fdopen(). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "shim.h"

/* glibc's FILE flags (libio), which fdopen() cannot change on an existing
 * stream; freopen() has to. */
#define LIBIO_NO_READS 0x0004
#define LIBIO_NO_WRITES 0x0008
#define LIBIO_IS_APPENDING 0x1000

/* Parses a complete fopen() mode string into open(2) flags, as glibc does:
 * the first letter chooses the mode, then '+', 'x', 'e' modify it, 'b',
 * 't', 'm', 'c' and unknown letters are accepted and ignored, and a
 * ",ccs=" suffix ends the flags.  Returns the flags or -EINVAL. */
static int mode_flags(const char *mode)
{
        int flags;

        if (!mode)
                return -EINVAL;
        switch (mode[0]) {
        case 'r':
                flags = O_RDONLY;
                break;
        case 'w':
                flags = O_WRONLY | O_CREAT | O_TRUNC;
                break;
        case 'a':
                flags = O_WRONLY | O_CREAT | O_APPEND;
                break;
        default:
                return -EINVAL;
        }
        for (const char *c = mode + 1; *c && *c != ','; c++)
                switch (*c) {
                case '+':
                        flags = (flags & ~O_ACCMODE) | O_RDWR;
                        break;
                case 'x':
                        flags |= O_EXCL;
                        break;
                case 'e':
                        flags |= O_CLOEXEC;
                        break;
                default:
                        break;
                }
        return flags;
}

static FILE *fail(int r)
{
        errno = -r;
        return NULL;
}

/* Which call a read-only open of the direct set is handed to. */
typedef FILE *(*real_fopen_fn)(const char *, const char *);

static FILE *shim_fopen(const char *path, const char *mode, real_fopen_fn real)
{
        char buf[PATH_MAX];
        int flags, fd, fdnum, kind, saved = errno;
        FILE *f;

        flags = mode_flags(mode);
        if (flags < 0)
                return fail(flags);
        if (!shim_enabled())
                return real(path, mode);
        /* Read-only opens the kernel allows keep glibc's own fopen (with its
         * mmap 'm' mode); shim_openat() decides everything else. */
        if (shim_flags_readonly(flags)) {
                kind = shim_path(AT_FDCWD, path, buf, &fdnum);
                if (kind == SHIM_PATH_KERNEL || (kind == SHIM_PATH_BROKER && shim_direct(buf))) {
                        f = real(path, mode);
                        if (f || errno != EACCES)
                                return f;
                }
        }
        fd = shim_openat(AT_FDCWD, path, flags, 0666);
        if (fd < 0)
                return fail(fd);
        return shim_adopt_fd(fd, fdopen(fd, mode), saved);
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
        return shim_fopen(path, mode, REAL(fopen));
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
        return shim_fopen(path, mode, REAL(fopen64));
}

/* Points STREAM at a newly opened file while keeping the FILE object (the
 * program may hold stdin/stdout by address): the new fd takes the stream's
 * descriptor number and the stream's read/write flags follow MODE. */
static int reattach(FILE *stream, int fd, int flags)
{
        int target = fileno(stream);

        fflush(stream);
        if (target < 0)
                return -EBADF;
        if (fd == target) {
                /* The stream's fd was closed and the new file took its
                 * number. */
                if (fcntl(fd, F_SETFD, (flags & O_CLOEXEC) ? FD_CLOEXEC : 0) < 0)
                        return shim_libc(-1);
        } else {
                if (dup3(fd, target, flags & O_CLOEXEC) < 0)
                        return shim_libc(-1);
                close(fd);
        }

        stream->_flags &= ~(LIBIO_NO_READS | LIBIO_NO_WRITES | LIBIO_IS_APPENDING);
        if ((flags & O_ACCMODE) == O_RDONLY)
                stream->_flags |= LIBIO_NO_WRITES;
        else if ((flags & O_ACCMODE) == O_WRONLY)
                stream->_flags |= LIBIO_NO_READS;
        if (flags & O_APPEND)
                stream->_flags |= LIBIO_IS_APPENDING;
        clearerr(stream);
        /* Drops buffered data of the old file and the stream's cached
         * offset; a pipe or tty cannot seek and needs neither. */
        if (!(flags & O_APPEND))
                (void) fseeko(stream, 0, SEEK_SET);
        return 0;
}

static FILE *shim_freopen(const char *path, const char *mode, FILE *stream,
                          FILE *(*real)(const char *, const char *, FILE *))
{
        int flags, fd, r, saved = errno;

        /* A NULL path only changes the mode of the stream's own file. */
        if (!shim_enabled() || !path)
                return real(path, mode, stream);
        flags = mode_flags(mode);
        if (flags < 0)
                return fail(flags);
        fd = shim_openat(AT_FDCWD, path, flags, 0666);
        if (fd < 0)
                return fail(fd);
        r = reattach(stream, fd, flags);
        if (r < 0) {
                close(fd);
                return fail(r);
        }
        errno = saved;
        return stream;
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
        return shim_freopen(path, mode, stream, REAL(freopen));
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
        return shim_freopen(path, mode, stream, REAL(freopen64));
}

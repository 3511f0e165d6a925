/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory reading: opendir, and the libc walkers whose internal opendir
 * the shim cannot see (nftw, ftw, scandir, glob), rebuilt on the brokered
 * opendir.  These allocate like their libc originals; only the open itself
 * is on the hot path. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "util.h"

/* The *64 variants share the code: on LP64 glibc the types are the same
 * layout. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 layout");
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "dirent64 layout");
_Static_assert(offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name), "dirent64 layout");
_Static_assert(sizeof(glob_t) == sizeof(glob64_t), "glob64_t layout");

/* Returns a DIR or NULL with errno set (errno untouched on success). */
static DIR *opendirat(int dirfd, const char *name)
{
        int saved = errno;
        int fd = shim_openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC, 0);

        if (fd < 0) {
                errno = -fd;
                return NULL;
        }
        return shim_adopt_fd(fd, fdopendir(fd), saved);
}

SHIM_EXPORT DIR *opendir(const char *name)
{
        if (!shim_enabled())
                return REAL(opendir)(name);
        return opendirat(AT_FDCWD, name);
}

/* ---- scandir ------------------------------------------------------------ */

typedef int (*scan_filter_fn)(const struct dirent *);
typedef int (*scan_compar_fn)(const struct dirent **, const struct dirent **);

static void free_entries(struct dirent **v, size_t n)
{
        while (n > 0)
                free(v[--n]);
        free(v);
}

static int scan(int dirfd, const char *dir, struct dirent ***namelist, scan_filter_fn filter, scan_compar_fn compar)
{
        struct dirent **v = NULL, *e;
        size_t n = 0, cap = 0;
        DIR *d = opendirat(dirfd, dir);

        if (!d)
                return -1;
        for (errno = 0; (e = readdir(d)); errno = 0) {
                size_t size = offsetof(struct dirent, d_name) + strlen(e->d_name) + 1;
                struct dirent *copy;

                if (filter && !filter(e))
                        continue;
                if (n == cap) {
                        struct dirent **nv = reallocarray(v, cap ? cap * 2 : 16, sizeof(*v));

                        if (!nv)
                                goto fail;
                        v = nv;
                        cap = cap ? cap * 2 : 16;
                }
                copy = malloc(size);
                if (!copy)
                        goto fail;
                memcpy(copy, e, size);
                v[n++] = copy;
        }
        if (errno)
                goto fail;
        closedir(d);
        if (compar && n > 1)
                qsort(v, n, sizeof(*v), (int (*)(const void *, const void *)) (void (*)(void)) compar);
        *namelist = v;
        return (int) n;
fail: {
                int err = errno;

                free_entries(v, n);
                closedir(d);
                errno = err;
                return -1;
        }
}

static int scan_entry(int dirfd, const char *dir, struct dirent ***namelist, scan_filter_fn filter,
                      scan_compar_fn compar, void (*real)(void))
{
        typedef int (*real_fn)(int, const char *, struct dirent ***, scan_filter_fn, scan_compar_fn);

        if (!shim_enabled())
                return ((real_fn) real)(dirfd, dir, namelist, filter, compar);
        return scan(dirfd, dir, namelist, filter, compar);
}

#define AS_VOIDFN(f) ((void (*)(void)) (f))

SHIM_EXPORT int scandirat(int dirfd, const char *dir, struct dirent ***namelist, scan_filter_fn filter, scan_compar_fn compar)
{
        return scan_entry(dirfd, dir, namelist, filter, compar, AS_VOIDFN(REAL(scandirat)));
}

SHIM_EXPORT int scandir(const char *dir, struct dirent ***namelist, scan_filter_fn filter, scan_compar_fn compar)
{
        return scan_entry(AT_FDCWD, dir, namelist, filter, compar, AS_VOIDFN(REAL(scandirat)));
}

SHIM_EXPORT int scandirat64(int dirfd, const char *dir, struct dirent64 ***namelist,
                            int (*filter)(const struct dirent64 *),
                            int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
        return scan_entry(dirfd, dir, (struct dirent ***) namelist, (scan_filter_fn) AS_VOIDFN(filter),
                          (scan_compar_fn) AS_VOIDFN(compar), AS_VOIDFN(REAL(scandirat64)));
}

SHIM_EXPORT int scandir64(const char *dir, struct dirent64 ***namelist,
                          int (*filter)(const struct dirent64 *),
                          int (*compar)(const struct dirent64 **, const struct dirent64 **))
{
        return scandirat64(AT_FDCWD, dir, namelist, filter, compar);
}

/* ---- nftw / ftw ---------------------------------------------------------- */

struct walk {
        char *path;
        size_t cap;
        int flags;
        __nftw_func_t nftw_fn;  /* exactly one of these */
        __ftw_func_t ftw_fn;
        dev_t dev;
};

static int report(struct walk *w, const struct stat *st, int type, size_t base, int level)
{
        struct FTW f = { .base = (int) base, .level = level };

        if (w->ftw_fn)
                return w->ftw_fn(w->path, st, type);
        return w->nftw_fn(w->path, st, type, &f);
}

/* Without FTW_ACTIONRETVAL any non-zero result ends the walk; with it only
 * FTW_STOP does (the skips are handled where they apply). */
static bool stops(const struct walk *w, int r)
{
        if (w->flags & FTW_ACTIONRETVAL)
                return r == FTW_STOP;
        return r != 0;
}

/* The names in directory PATH, NUL separated, in readdir order. */
static int read_names(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *names = NULL;
        size_t len = 0, cap = 0;
        struct dirent *e;
        DIR *d = opendirat(AT_FDCWD, path);

        if (!d)
                return -1;
        for (errno = 0; (e = readdir(d)); errno = 0) {
                size_t n = strlen(e->d_name) + 1;

                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (len + n > cap) {
                        size_t ncap = (len + n) * 2 + 256;
                        char *nn = realloc(names, ncap);

                        if (!nn)
                                break;
                        names = nn;
                        cap = ncap;
                }
                memcpy(names + len, e->d_name, n);
                len += n;
        }
        {
                int err = errno;

                closedir(d);
                if (err) {
                        errno = err;
                        return -1;
                }
        }
        *ret = TAKE_PTR(names);
        *ret_len = len;
        return 0;
}

static int walk_path(struct walk *w, size_t len, size_t base, int level);

/* Visits the entries NAMES of the directory at w->path[0..len). */
static int walk_children(struct walk *w, size_t len, int level, const char *names, size_t names_len)
{
        _cleanup_close_ int back = -1;
        int r = 0;

        if (w->flags & FTW_CHDIR) {
                back = REAL(openat)(AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (back < 0 || chdir(w->path) < 0)
                        return -1;
        }
        for (size_t off = 0; off < names_len; off += strlen(names + off) + 1) {
                const char *name = names + off;
                size_t n = strlen(name), start = len, need = len + 1 + n + 1;

                if (need > w->cap) {
                        char *np = realloc(w->path, need * 2);

                        if (!np) {
                                r = -1;
                                break;
                        }
                        w->path = np;
                        w->cap = need * 2;
                }
                if (start == 0 || w->path[start - 1] != '/')
                        w->path[start++] = '/';
                memcpy(w->path + start, name, n + 1);
                r = walk_path(w, start + n, start, level + 1);
                w->path[len] = '\0';
                if (r < 0 || stops(w, r))
                        break;
                if ((w->flags & FTW_ACTIONRETVAL) && r == FTW_SKIP_SIBLINGS) {
                        r = 0;
                        break;
                }
                r = 0;
        }
        if (back >= 0 && fchdir(back) < 0 && r == 0)
                r = -1;
        return r;
}

static int stat_type(struct walk *w, struct stat *st, int level)
{
        if (((w->flags & FTW_PHYS) ? lstat(w->path, st) : stat(w->path, st)) < 0) {
                if (!(w->flags & FTW_PHYS) && lstat(w->path, st) == 0 && S_ISLNK(st->st_mode))
                        return FTW_SLN;
                /* The start must exist; below it libc reports FTW_NS. */
                return level == 0 ? -1 : FTW_NS;
        }
        if (S_ISDIR(st->st_mode))
                return FTW_D;
        return S_ISLNK(st->st_mode) ? FTW_SL : FTW_F;
}

static int walk_path(struct walk *w, size_t len, size_t base, int level)
{
        _cleanup_free_ char *names = NULL;
        size_t names_len = 0;
        struct stat st = {};
        int type, r;

        type = stat_type(w, &st, level);
        if (type < 0)
                return -1;
        if (level == 0)
                w->dev = st.st_dev;
        else if ((w->flags & FTW_MOUNT) && type != FTW_NS && st.st_dev != w->dev)
                return 0;
        if (type != FTW_D)
                return report(w, &st, type, base, level);

        /* As libc: a directory that cannot be listed is reported FTW_DNR
         * instead of FTW_D, and not entered. */
        if (read_names(w->path, &names, &names_len) < 0)
                return report(w, &st, FTW_DNR, base, level);
        if (!(w->flags & FTW_DEPTH)) {
                r = report(w, &st, FTW_D, base, level);
                if (stops(w, r) || ((w->flags & FTW_ACTIONRETVAL) && r != FTW_CONTINUE))
                        return r == FTW_SKIP_SUBTREE ? 0 : r;
        }
        r = walk_children(w, len, level, names, names_len);
        if (r != 0)
                return r;
        if (w->flags & FTW_DEPTH)
                return report(w, &st, FTW_DP, base, level);
        return 0;
}

static int walk(const char *dir, __nftw_func_t nfn, __ftw_func_t fn, int flags)
{
        struct walk w = { .flags = flags, .nftw_fn = nfn, .ftw_fn = fn };
        size_t len = strlen(dir), base;
        const char *slash;
        int r;

        if (len == 0) {
                errno = ENOENT;
                return -1;
        }
        w.cap = len + 256;
        w.path = malloc(w.cap);
        if (!w.path)
                return -1;
        memcpy(w.path, dir, len + 1);
        /* The base of the start path is after its last '/' (trailing ones
         * excluded), as glibc computes it. */
        slash = NULL;
        for (size_t i = 0; i + 1 < len; i++)
                if (dir[i] == '/')
                        slash = dir + i;
        base = slash ? (size_t) (slash - dir) + 1 : 0;
        r = walk_path(&w, len, base, 0);
        free(w.path);
        if ((flags & FTW_ACTIONRETVAL) && r > 0 && r != FTW_STOP)
                r = 0;
        return r;
}

SHIM_EXPORT int nftw(const char *dir, __nftw_func_t fn, int nopenfd, int flags)
{
        if (!shim_enabled())
                return REAL(nftw)(dir, fn, nopenfd, flags);
        return walk(dir, fn, NULL, flags);
}

SHIM_EXPORT int nftw64(const char *dir, __nftw64_func_t fn, int nopenfd, int flags)
{
        if (!shim_enabled())
                return REAL(nftw64)(dir, fn, nopenfd, flags);
        return walk(dir, (__nftw_func_t) AS_VOIDFN(fn), NULL, flags);
}

SHIM_EXPORT int ftw(const char *dir, __ftw_func_t fn, int nopenfd)
{
        if (!shim_enabled())
                return REAL(ftw)(dir, fn, nopenfd);
        return walk(dir, NULL, fn, 0);
}

SHIM_EXPORT int ftw64(const char *dir, __ftw64_func_t fn, int nopenfd)
{
        if (!shim_enabled())
                return REAL(ftw64)(dir, fn, nopenfd);
        return walk(dir, NULL, (__ftw_func_t) AS_VOIDFN(fn), 0);
}

/* ---- glob ---------------------------------------------------------------- */

/* glob() lists directories through these when given GLOB_ALTDIRFUNC. */
static void *glob_opendir(const char *name)
{
        return opendirat(AT_FDCWD, name);
}

static struct dirent *glob_readdir(void *d)
{
        return readdir(d);
}

static void glob_closedir(void *d)
{
        closedir(d);
}

static int glob_stat(const char *path, struct stat *st)
{
        return stat(path, st);
}

static int glob_lstat(const char *path, struct stat *st)
{
        return lstat(path, st);
}

typedef int (*glob_fn)(const char *, int, int (*)(const char *, int), glob_t *);

static int do_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g, glob_fn real)
{
        int r;

        /* A caller with its own directory functions keeps them. */
        if (!shim_enabled() || (flags & GLOB_ALTDIRFUNC))
                return real(pattern, flags, errfunc, g);
        g->gl_opendir = glob_opendir;
        g->gl_readdir = glob_readdir;
        g->gl_closedir = glob_closedir;
        g->gl_stat = glob_stat;
        g->gl_lstat = glob_lstat;
        r = real(pattern, flags | GLOB_ALTDIRFUNC, errfunc, g);
        g->gl_flags &= ~GLOB_ALTDIRFUNC;
        return r;
}

SHIM_EXPORT int glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
        return do_glob(pattern, flags, errfunc, g, REAL(glob));
}

SHIM_EXPORT int glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob64_t *g)
{
        return do_glob(pattern, flags, errfunc, (glob_t *) g, (glob_fn) AS_VOIDFN(REAL(glob64)));
}

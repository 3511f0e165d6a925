/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POSIX named semaphores (Python's multiprocessing locks among them):
 * glibc keeps them as files in /dev/shm that it opens, creates and links
 * with internal calls the shim cannot see, so Landlock refuses them.  The
 * shim does what glibc does with calls the broker decides: the semaphore
 * is initialized in a temporary file, linked to its name (so nobody maps
 * it half made), and mapped shared.  The memory is glibc's own sem_t, set
 * up by sem_init(), so sem_wait() and sem_post() work on it unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

#define SEM_DIR "/dev/shm/sem."
#define MAPPINGS_MAX 256

/* POSIX: the same name opened twice gives the same address, and
 * sem_close() must know our mappings from glibc's. */
struct mapping {
        dev_t dev;
        ino_t ino;
        sem_t *sem;
        unsigned int refs;
};

static struct mapping mappings[MAPPINGS_MAX];
static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;

/* "/name" or "name", with no other '/', as glibc accepts it. */
static int sem_path(const char *name, char *buf, size_t size)
{
        while (*name == '/')
                name++;
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        if ((size_t)snprintf(buf, size, SEM_DIR "%s", name) >= size)
                return -ENAMETOOLONG;
        return 0;
}

/* Maps FD's semaphore, or takes another reference to the same one. */
static sem_t *map_fd(int fd)
{
        struct stat st;
        sem_t *sem = SEM_FAILED;
        struct mapping *free_slot = NULL;

        if (fstat(fd, &st) < 0)
                return SEM_FAILED;
        pthread_mutex_lock(&mappings_lock);
        for (size_t i = 0; i < MAPPINGS_MAX; i++) {
                struct mapping *m = &mappings[i];

                if (m->refs && m->dev == st.st_dev && m->ino == st.st_ino) {
                        m->refs++;
                        sem = m->sem;
                        goto out;
                }
                if (!m->refs && !free_slot)
                        free_slot = m;
        }
        if (!free_slot) {
                errno = ENFILE;
                goto out;
        }
        void *p = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
                *free_slot = (struct mapping) { st.st_dev, st.st_ino, p, 1 };
                sem = p;
        }
out:
        pthread_mutex_unlock(&mappings_lock);
        return sem;
}

/* A new semaphore with VALUE at PATH: made whole in a temporary file,
 * then linked.  Returns an fd of it, or -errno (-EEXIST: PATH exists). */
static int create_sem(const char *path, mode_t mode, unsigned int value)
{
        char tmp[] = SEM_DIR "XXXXXX";
        sem_t init;
        int fd, r = 0;

        if (sem_init(&init, 1, value) < 0)
                return -errno;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode & 0777 & ~shim_umask()) < 0 ||
            write(fd, &init, sizeof init) != (ssize_t)sizeof init || link(tmp, path) < 0)
                r = errno ? -errno : -EIO;
        (void)unlink(tmp);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

static int open_sem(const char *path, int oflag, mode_t mode, unsigned int value)
{
        for (int attempt = 0; attempt < 100; attempt++) {
                int fd;

                if (!(oflag & O_EXCL)) {
                        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                        if (fd >= 0 || errno != ENOENT || !(oflag & O_CREAT))
                                return fd < 0 ? -errno : fd;
                }
                fd = create_sem(path, mode, value);
                if (fd != -EEXIST || (oflag & O_EXCL))
                        return fd;
                /* Made by someone else meanwhile: open theirs. */
        }
        return -EAGAIN;
}

SHIM_EXPORT sem_t *sem_open(const char *name, int oflag, ...)
{
        char path[PATH_MAX];
        mode_t mode = 0;
        unsigned int value = 0;
        int saved = errno, fd, r;

        if (oflag & O_CREAT) {
                va_list ap;

                va_start(ap, oflag);
                mode = (mode_t)va_arg(ap, int);
                value = va_arg(ap, unsigned int);
                va_end(ap);
        }
        if (!shim_enabled() || !shim_conn_available())
                return REAL(sem_open)(name, oflag, mode, value);
        if (value > SEM_VALUE_MAX) {
                errno = EINVAL;
                return SEM_FAILED;
        }
        r = sem_path(name, path, sizeof path);
        fd = r < 0 ? r : open_sem(path, oflag, mode, value);
        if (fd < 0) {
                errno = -fd;
                return SEM_FAILED;
        }
        sem_t *sem = map_fd(fd);
        r = errno;
        close(fd);
        errno = sem == SEM_FAILED ? r : saved;
        return sem;
}

SHIM_EXPORT int sem_close(sem_t *sem)
{
        pthread_mutex_lock(&mappings_lock);
        for (size_t i = 0; i < MAPPINGS_MAX; i++) {
                struct mapping *m = &mappings[i];

                if (m->refs && m->sem == sem) {
                        if (--m->refs == 0)
                                munmap(sem, sizeof(sem_t));
                        pthread_mutex_unlock(&mappings_lock);
                        return 0;
                }
        }
        pthread_mutex_unlock(&mappings_lock);
        return REAL(sem_close)(sem);
}

SHIM_EXPORT int sem_unlink(const char *name)
{
        char path[PATH_MAX];
        int r;

        if (!shim_enabled() || !shim_conn_available())
                return REAL(sem_unlink)(name);
        r = sem_path(name, path, sizeof path);
        if (r == -EINVAL)
                r = -ENOENT;    /* as glibc for a name it cannot hold */
        if (r >= 0)
                r = shim_unlinkat(AT_FDCWD, path, 0);
        /* glibc reports a refused unlink as EACCES. */
        return SHIM_ERRNO(r == -EPERM ? -EACCES : r);
}

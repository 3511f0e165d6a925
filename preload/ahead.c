/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files the broker sent ahead (OPENHOOK_CMD_OPEN_AHEAD, lib/server.c).
 *
 * A program that opens a second file for reading in the directory of its
 * previous brokered read asks with OPEN_AHEAD, and the broker sends, with
 * the file asked for, the regular files that follow it in the directory,
 * each decided by the policy as if asked for with the same flags (and
 * logged).  A program that reads what it lists (its files came ahead and
 * were used) asks with OPEN_DIR_AHEAD when it opens a directory, and the
 * directory's files come with it, opened with the flags of the program's
 * last read that came ahead, and its subdirectories, opened with the
 * flags it opened the directory with, and their files.  They are held
 * here, above the program's fd numbers, and one is handed out for an open
 * that would have reached that very file or directory:
 *
 *  - the same flags (but for O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NOFOLLOW,
 *    which change nothing for a regular file or directory that is no
 *    symlink);
 *  - the path, looked up now from the program's own dirfd or cwd without
 *    following a final symlink, is a regular file (a directory, for a
 *    subdirectory) with the device and inode the broker opened under that
 *    name (a name is looked up among the held
 *    ones first, for free, so a miss costs nothing; the same name held in
 *    two directories is told apart by the inode);
 *  - within AHEAD_TTL_NS of the decision, so a policy swapped in later
 *    decides everything after that (an fd already given is kept anyway).
 *
 * It is then duplicated to the lowest free number, as open() would have
 * returned, with the O_CLOEXEC asked for, and the held copy closed: the
 * program sees a fresh open file description at offset 0.  Held fds are
 * close-on-exec, dropped by a forked child (its copies would share offsets
 * with ours), forgotten when the program closes their numbers, and closed
 * when their slot is reused or expires. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ahead.h"
#include "openhook.h"
#include "shim.h"
#include "util.h"

/* Directories with files held: a tree walker comes back to a directory
 * after the subdirectories met among its files. */
#define AHEAD_SLOTS 8
/* Fds held in all, so a program near its fd limit is not pushed over:
 * an eighth of the limit, at most this many. */
#define AHEAD_HELD_MAX 256u
/* Fewer than this room for a request: the least recently filled slot's
 * files make room (a tree walker needs its parent's files again only
 * after the subtree, if they have not expired by then). */
#define AHEAD_ASK_MIN 16u
#define AHEAD_TTL_NS 1000000000ull
#define AHEAD_BARREN 3
/* Held fds go above the program's numbers, like the shim's socket. */
#define AHEAD_FD_FLOOR 200
#define AHEAD_IGNORED_FLAGS (O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NOFOLLOW)

struct slot {
        int flags;                      /* of its files, less AHEAD_IGNORED_FLAGS */
        int dir_flags;                  /* of its subdirectories, likewise; -1: none */
        uint64_t born;                  /* CLOCK_MONOTONIC ns; 0: empty */
        unsigned int left;              /* fds still held */
        char dir[PATH_MAX];             /* as the shim asked for it */
        struct oh_ahead batch;
        int fds[OPENHOOK_AHEAD_MAX];    /* -1 once used or forgotten */
};

static struct {
        pthread_mutex_t lock;           /* guards everything below but rx */
        unsigned int live;              /* slots in use; read unlocked as a hint */
        unsigned int held;
        unsigned int next;              /* the slot to reuse */
        bool unsupported;               /* the broker answered ENOSYS */
        bool dir_unsupported;           /* ... to OPEN_DIR_AHEAD */
        bool walk_unsupported;          /* ... to OPEN_WALK_AHEAD */
        int dir_flags;                  /* of the last directory opened through
                                         * the broker; -1: none yet */
        int reader_flags;               /* of the last read handed out; -1: none, or
                                         * what came ahead was mostly not read */
        char last_dir[PATH_MAX];        /* of the previous brokered read */
        char last_read[PATH_MAX];       /* the previous brokered read */
        unsigned int barren;            /* asks in last_dir in a row that brought nothing */
        struct slot s[AHEAD_SLOTS];
        pthread_mutex_t rx_lock;        /* one reply received at a time */
        struct oh_ahead_rx rx;
} ahead = {
        .reader_flags = -1,
        .dir_flags = -1,
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .rx_lock = PTHREAD_MUTEX_INITIALIZER,
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Our own closes do not go through close(), which would come back to
 * shim_ahead_forget() while the lock is held. */
static void close_held(int fd)
{
        REAL(close)(fd);
}

static bool eligible(int flags)
{
        return shim_flags_readonly(flags) && !(flags & (O_DIRECTORY | O_PATH | O_APPEND));
}

/* Whether an open with FLAGS may be served by a held file or directory. */
static bool takeable(int flags)
{
        return shim_flags_readonly(flags) && !(flags & (O_PATH | O_APPEND));
}

/* Whether SL holds what an open with FLAGS of an object of MODE (0: either
 * kind) may get. */
static bool slot_serves(const struct slot *sl, int flags, mode_t mode)
{
        int f = flags & ~AHEAD_IGNORED_FLAGS;

        if (!sl->left)
                return false;
        return ((!mode || S_ISREG(mode)) && sl->flags == f) || ((!mode || S_ISDIR(mode)) && sl->dir_flags == f);
}

static void slot_drop(struct slot *sl)
{
        for (uint32_t i = 0; i < sl->batch.count; i++)
                if (sl->fds[i] >= 0)
                        close_held(sl->fds[i]);
        ahead.held -= sl->left;
        if (sl->born)
                ahead.live--;
        sl->born = 0;
        sl->left = 0;
        sl->batch.count = 0;
}

/* A slot whose time is up: most of it never read means the program does
 * not read what it lists (or not at this pace), so directories stop
 * bringing files. */
static void slot_expire(struct slot *sl)
{
        if (sl->left > sl->batch.count / 2)
                ahead.reader_flags = -1;
        slot_drop(sl);
}

static bool slot_expired(const struct slot *sl, uint64_t now)
{
        return sl->born && now - sl->born > AHEAD_TTL_NS;
}

/* Whether a file named NAME is held for FLAGS (lock held). */
static bool name_held(const char *name, int flags)
{
        uint64_t now = now_ns();

        for (size_t i = 0; i < AHEAD_SLOTS; i++) {
                struct slot *sl = &ahead.s[i];

                if (slot_expired(sl, now))
                        slot_expire(sl);
                if (!slot_serves(sl, flags, 0))
                        continue;
                for (uint32_t j = 0; j < sl->batch.count; j++)
                        if (sl->fds[j] >= 0 && strcmp(sl->batch.names + sl->batch.files[j].name_off, name) == 0)
                                return true;
        }
        return false;
}

/* Takes the held fd of NAME that is the file ST, if any (lock held). */
static int take_held(const char *name, int flags, const struct stat *st)
{
        for (size_t i = 0; i < AHEAD_SLOTS; i++) {
                struct slot *sl = &ahead.s[i];

                if (!slot_serves(sl, flags, st->st_mode))
                        continue;
                for (uint32_t j = 0; j < sl->batch.count; j++) {
                        const struct oh_ahead_file *f = &sl->batch.files[j];
                        int fd = sl->fds[j];

                        if (fd < 0 || f->dev != (uint64_t) st->st_dev || f->ino != (uint64_t) st->st_ino ||
                            strcmp(sl->batch.names + f->name_off, name) != 0)
                                continue;
                        sl->fds[j] = -1;
                        sl->left--;
                        ahead.held--;
                        if (S_ISREG(st->st_mode))
                                ahead.reader_flags = flags;
                        return fd;
                }
        }
        return -1;
}

/* PATH's last component, or NULL when it ends in no plain name. */
static const char *last_name(const char *path)
{
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;

        return *name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 ? name : NULL;
}

/* The name is looked up among the held files first, for free; only a
 * held one costs a stat, of the very name the program asked for, whose
 * inode then picks the held file: a file by that name in another
 * directory has another. */
int shim_ahead_take(int dirfd, const char *path, int flags)
{
        const char *name;
        struct stat st;
        bool held;

        if (!__atomic_load_n(&ahead.live, __ATOMIC_RELAXED) || !takeable(flags) || !path ||
            !(name = last_name(path)))
                return -ENOENT;
        /* Never wait: the lock may be held across a fork by another
         * thread, and the broker is always right too. */
        if (pthread_mutex_trylock(&ahead.lock) != 0)
                return -ENOENT;
        held = name_held(name, flags);
        pthread_mutex_unlock(&ahead.lock);
        if (!held || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) ||
            pthread_mutex_trylock(&ahead.lock) != 0)
                return -ENOENT;
        int fd = take_held(name, flags, &st);
        pthread_mutex_unlock(&ahead.lock);
        if (fd < 0)
                return -ENOENT;
        int r = fcntl(fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
        close_held(fd);
        return r < 0 ? -ENOENT : r;
}

/* The most fds to hold (0: none, for a program with a small fd table). */
static unsigned int held_max(void)
{
        static rlim_t limit;
        struct rlimit rl;

        if (!limit && getrlimit(RLIMIT_NOFILE, &rl) == 0)
                limit = rl.rlim_cur;
        if (limit < 1024)
                return 0;
        return limit / 8 < AHEAD_HELD_MAX ? (unsigned int) (limit / 8) : AHEAD_HELD_MAX;
}

/* Drops the least recently filled slot still holding files (lock held).
 * Returns false when none does. */
static bool make_room(void)
{
        struct slot *oldest = NULL;

        for (size_t i = 0; i < AHEAD_SLOTS; i++)
                if (ahead.s[i].left && (!oldest || ahead.s[i].born < oldest->born))
                        oldest = &ahead.s[i];
        if (oldest)
                slot_drop(oldest);
        return oldest;
}

/* Up to how many files to ask for: none for a program with a small fd
 * table; older slots make room when little is left. */
static unsigned int ahead_room(void)
{
        unsigned int max = held_max();

        if (!max)
                return 0;
        if (max - __atomic_load_n(&ahead.held, __ATOMIC_RELAXED) < AHEAD_ASK_MIN &&
            pthread_mutex_trylock(&ahead.lock) == 0) {
                while (max - ahead.held < AHEAD_ASK_MIN && make_room())
                        ;
                pthread_mutex_unlock(&ahead.lock);
        }
        unsigned int held = __atomic_load_n(&ahead.held, __ATOMIC_RELAXED);
        unsigned int room = held < max ? max - held : 0;
        return room < OPENHOOK_AHEAD_MAX ? room : OPENHOOK_AHEAD_MAX;
}

/* Whether to ask for files ahead with this read of PATH: the previous
 * brokered read, or the directory last opened, was in the same directory,
 * and what came ahead for it is used up (a program reading in another
 * order would otherwise be sent the same files again and again).  Not for
 * the very file read before (a program reopening one file gains nothing
 * from the others), nor in a directory where asking brought nothing a few
 * times in a row (the broker may not list it; once can be the last file in
 * the directory's order): each ask costs the broker a look at it. */
static bool wanted(const char *path)
{
        const char *slash = strrchr(path, '/');
        size_t n = (size_t) (slash - path), len = strlen(path);
        bool same, again, busy = false;

        if (pthread_mutex_trylock(&ahead.lock) != 0)
                return false;
        same = strncmp(ahead.last_dir, path, n) == 0 && ahead.last_dir[n] == '\0';
        again = same && strcmp(ahead.last_read, path) == 0;
        for (size_t i = 0; same && i < AHEAD_SLOTS; i++)
                busy |= ahead.s[i].born && ahead.s[i].left > 0 && strncmp(ahead.s[i].dir, path, n) == 0 &&
                        ahead.s[i].dir[n] == '\0';
        /* A walker's next read may be in any directory (the broker knows
         * where its walk is), once it has used up all that came: a
         * program that reads only some of what comes does not walk. */
        bool walking = ahead.reader_flags >= 0 && ahead.dir_flags >= 0 && !ahead.walk_unsupported &&
                       ahead.held == 0;
        if (!same && n < sizeof(ahead.last_dir)) {
                memcpy(ahead.last_dir, path, n);
                ahead.last_dir[n] = '\0';
                ahead.barren = 0;
        }
        if (len < sizeof(ahead.last_read))
                memcpy(ahead.last_read, path, len + 1);
        pthread_mutex_unlock(&ahead.lock);
        return (same || walking) && !again && !busy && ahead.barren < AHEAD_BARREN && !ahead.unsupported;
}

/* The program opens directory PATH, most likely to read it: its first
 * file may ask for the others at once. */
static void listing(const char *path, int flags)
{
        size_t n = strlen(path);

        if (n >= sizeof(ahead.last_dir) || pthread_mutex_trylock(&ahead.lock) != 0)
                return;
        ahead.dir_flags = flags;
        memcpy(ahead.last_dir, path, n + 1);
        ahead.last_read[0] = '\0';
        ahead.barren = 0;
        pthread_mutex_unlock(&ahead.lock);
}

/* Moves the NFDS fds FDS[] above the program's numbers (-1 for one that
 * cannot be).  They arrived at the lowest free numbers, one after the
 * other, so their old numbers are closed a run at a time. */
static void move_up(int *fds, size_t nfds)
{
        size_t run = 0;

        for (size_t i = 0; i < nfds; i++) {
                int low = fds[i];

                fds[i] = fcntl(low, F_DUPFD_CLOEXEC, AHEAD_FD_FLOOR);
                if (i + 1 < nfds && fds[i + 1] == low + 1)
                        continue;
                REAL(close_range)((unsigned int) (low - (int) (i - run)), (unsigned int) low, 0);
                run = i + 1;
        }
}

/* The slot to fill: one with nothing left in it, else the next in turn. */
static struct slot *free_slot(void)
{
        for (size_t i = 0; i < AHEAD_SLOTS; i++)
                if (!ahead.s[i].left)
                        return &ahead.s[i];
        return &ahead.s[ahead.next++ % AHEAD_SLOTS];
}

/* Keeps what came in RX for directory DIR (N bytes), held for opens of
 * files with FLAGS and of subdirectories with DIR_FLAGS (-1: none came)
 * (lock held). */
static void keep(const char *dir, size_t n, int flags, int dir_flags, struct oh_ahead_rx *rx)
{
        struct slot *sl = free_slot();

        slot_drop(sl);
        sl->flags = flags & ~AHEAD_IGNORED_FLAGS;
        sl->dir_flags = dir_flags < 0 ? -1 : dir_flags & ~AHEAD_IGNORED_FLAGS;
        memcpy(sl->dir, dir, n);
        sl->dir[n] = '\0';
        sl->batch = rx->batch;
        memcpy(sl->fds, rx->fds, sizeof(int) * rx->batch.count);
        move_up(sl->fds, rx->batch.count);
        for (uint32_t i = 0; i < rx->batch.count; i++)
                sl->left += sl->fds[i] >= 0;
        ahead.held += sl->left;
        sl->born = now_ns();
        ahead.live++;
}

/* How to ask for an open of PATH with FLAGS: OPEN_WALK_AHEAD for a read
 * in a directory being read through, or for a directory opened by a
 * program that reads what it lists (files then opened with *FILE_FLAGS,
 * directories with *DIR_FLAGS); OPEN_AHEAD and OPEN_DIR_AHEAD likewise
 * from a broker without it, or before a directory was opened; else 0: a
 * plain OPEN. */
static uint32_t ahead_command(const char *path, int flags, int *file_flags, int *dir_flags)
{
        if ((flags & O_DIRECTORY) && shim_flags_readonly(flags)) {
                /* "dir/..": a walker back in a directory it listed before
                 * (fts beyond its ring of fds) wants no files again. */
                if (!last_name(path))
                        return 0;
                listing(path, flags);
                *file_flags = __atomic_load_n(&ahead.reader_flags, __ATOMIC_RELAXED);
                *dir_flags = flags;
                if (*file_flags < 0)
                        return 0;
                return !ahead.walk_unsupported ? OPENHOOK_CMD_OPEN_WALK_AHEAD
                       : !ahead.dir_unsupported ? OPENHOOK_CMD_OPEN_DIR_AHEAD : 0;
        }
        *file_flags = flags;
        *dir_flags = __atomic_load_n(&ahead.dir_flags, __ATOMIC_RELAXED);
        if (!eligible(flags) || !wanted(path))
                return 0;
        return *dir_flags >= 0 && !ahead.walk_unsupported ? OPENHOOK_CMD_OPEN_WALK_AHEAD : OPENHOOK_CMD_OPEN_AHEAD;
}

int shim_ahead_open(const struct shim_conn *conn, const char *path, int flags, mode_t mode)
{
        int sock = conn->fd;
        unsigned int room;
        int file_flags, dir_flags;
        uint32_t command = conn->oneshot ? 0 : ahead_command(path, flags, &file_flags, &dir_flags);

        if (!command || !(room = ahead_room()) || pthread_mutex_trylock(&ahead.rx_lock) != 0)
                return openhook_open(sock, path, flags, mode);

        bool dir = flags & O_DIRECTORY;
        int fd = oh_client_open_ahead(sock, command, path, flags, file_flags, dir_flags, room, &ahead.rx);
        if (fd >= 0 && !dir) {
                pthread_mutex_lock(&ahead.lock);
                ahead.barren = ahead.rx.batch.count ? 0 : ahead.barren + 1;
                pthread_mutex_unlock(&ahead.lock);
        }
        if (fd >= 0 && ahead.rx.batch.count > 0) {
                /* The directory the files are in: PATH's, or PATH. */
                size_t n = dir ? strlen(path) : (size_t) (strrchr(path, '/') - path);

                while (n > 1 && path[n - 1] == '/')
                        n--;

                pthread_mutex_lock(&ahead.lock);
                if (n < sizeof(ahead.s[0].dir))
                        keep(path, n, file_flags, command == OPENHOOK_CMD_OPEN_AHEAD ? -1 : dir_flags, &ahead.rx);
                else
                        for (uint32_t i = 0; i < ahead.rx.batch.count; i++)
                                close_held(ahead.rx.fds[i]);
                pthread_mutex_unlock(&ahead.lock);
        }
        pthread_mutex_unlock(&ahead.rx_lock);
        if (fd != -ENOSYS)
                return fd;
        if (command == OPENHOOK_CMD_OPEN_WALK_AHEAD)
                ahead.walk_unsupported = true;
        else if (command == OPENHOOK_CMD_OPEN_AHEAD)
                ahead.unsupported = true;
        else
                ahead.dir_unsupported = true;
        return openhook_open(sock, path, flags, mode);
}

void shim_ahead_forget(unsigned int lo, unsigned int hi)
{
        if (hi < AHEAD_FD_FLOOR || !__atomic_load_n(&ahead.live, __ATOMIC_RELAXED))
                return;
        pthread_mutex_lock(&ahead.lock);
        for (size_t i = 0; i < AHEAD_SLOTS; i++) {
                struct slot *sl = &ahead.s[i];

                for (uint32_t j = 0; j < sl->batch.count; j++)
                        if (sl->fds[j] >= 0 && (unsigned int) sl->fds[j] >= lo && (unsigned int) sl->fds[j] <= hi) {
                                sl->fds[j] = -1;
                                sl->left--;
                                ahead.held--;
                        }
        }
        pthread_mutex_unlock(&ahead.lock);
}

/* A forked child's copies share their open file descriptions (and so
 * their offsets) with ours: it must not hand them out. */
static void drop_in_child(void)
{
        pthread_mutex_init(&ahead.lock, NULL);
        pthread_mutex_init(&ahead.rx_lock, NULL);
        for (size_t i = 0; i < AHEAD_SLOTS; i++)
                slot_drop(&ahead.s[i]);
        ahead.last_dir[0] = ahead.last_read[0] = '\0';
        ahead.barren = 0;
}

__attribute__((constructor)) static void register_fork_handler(void)
{
        pthread_atfork(NULL, NULL, drop_in_child);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One connection's state machine and the command table.  The connection
 * alternates between reading a request and sending its one response; the
 * host's event loop calls openhook_conn_process() whenever the fd is ready
 * for openhook_conn_events(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "resolve.h"
#include "spin.h"
#include "server.h"
#include "util.h"
#include "walk.h"

/* ---- the command table --------------------------------------------------- */

/* A handler returns an fd (for commands that answer with one) or 0, or
 * -errno.  Fields were validated by oh_wire_decode(). */
typedef int (*oh_handler_fn)(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v);

struct oh_command {
        const char *name;
        oh_handler_fn handler;
        bool gives_fd;
        bool sends_ahead;               /* the fd may bring its neighbours */
};

static int answer_open(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_open(c->server->policy, req->path, req->flags, req->mode, v);
}

static int answer_mkdir(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_mkdir(c->server->policy, req->path, req->mode, v);
}

static int answer_unlink(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_unlink(c->server->policy, req->path, v);
}

static int answer_rmdir(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_rmdir(c->server->policy, req->path, v);
}

static int answer_rename(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_rename(c->server->policy, req->path, req->path2, req->flags, v);
}

static int answer_symlink(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_symlink(c->server->policy, req->path, req->path2, v);
}

static int answer_link(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_link(c->server->policy, req->path, req->path2, v);
}

static int answer_truncate(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_truncate(c->server->policy, req->path, req->length, v);
}

static int answer_chmod(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_chmod(c->server->policy, req->path, req->mode, req->flags, v);
}

/* The kernel's range for tv_nsec, checked here because a 32-bit long
 * could not even hold what the wire carries. */
static bool nsec_valid(uint64_t nsec)
{
        return nsec < 1000000000u || nsec == UTIME_NOW || nsec == UTIME_OMIT;
}

static int answer_utimens(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        struct timespec ts[2];

        for (size_t i = 0; i < 2; i++) {
                if (!nsec_valid(req->times[2 * i + 1]))
                        return -EINVAL;
                ts[i].tv_sec = (time_t) (int64_t) req->times[2 * i];
                ts[i].tv_nsec = (long) req->times[2 * i + 1];
        }
        return oh_do_utimens(c->server->policy, req->path, ts, req->flags, v);
}

static int answer_access(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_access(c->server->policy, req->path, req->mode, req->flags, v);
}

static int answer_chown(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        return oh_do_chown(c->server->policy, req->path, req->uid, req->gid, req->flags, v);
}

/* A new private connection under the same policy: the host adopts one end
 * through its add_conn callback, the client receives the other. */
static int answer_connect(struct openhook_conn *c, const struct oh_request *req, struct oh_verdict *v)
{
        struct openhook_server *s = c->server;
        struct openhook_conn *nc;
        int pair[2];

        if (!s->add_conn)
                return -ENOSYS;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return oh_negerrno();
        _cleanup_close_ int theirs = pair[1];

        int r = openhook_server_add(s, pair[0], &nc);
        if (r < 0)
                return r;
        r = s->add_conn(nc, s->add_conn_data);
        if (r < 0) {
                openhook_conn_free(nc);
                return r;
        }
        return TAKE_FD(theirs);
}

static const struct oh_command commands[] = {
        [OPENHOOK_CMD_OPEN]     = { "open", answer_open, true, false },
        [OPENHOOK_CMD_MKDIR]    = { "mkdir", answer_mkdir, false, false },
        [OPENHOOK_CMD_UNLINK]   = { "unlink", answer_unlink, false, false },
        [OPENHOOK_CMD_RMDIR]    = { "rmdir", answer_rmdir, false, false },
        [OPENHOOK_CMD_RENAME]   = { "rename", answer_rename, false, false },
        [OPENHOOK_CMD_SYMLINK]  = { "symlink", answer_symlink, false, false },
        [OPENHOOK_CMD_LINK]     = { "link", answer_link, false, false },
        [OPENHOOK_CMD_TRUNCATE] = { "truncate", answer_truncate, false, false },
        [OPENHOOK_CMD_CONNECT]  = { "connect", answer_connect, true, false },
        [OPENHOOK_CMD_CHMOD]    = { "chmod", answer_chmod, false, false },
        [OPENHOOK_CMD_UTIMENS]  = { "utimens", answer_utimens, false, false },
        [OPENHOOK_CMD_ACCESS]   = { "access", answer_access, false, false },
        [OPENHOOK_CMD_CHOWN]    = { "chown", answer_chown, false, false },
        [OPENHOOK_CMD_OPEN_AHEAD] = { "open", answer_open, true, true },
        [OPENHOOK_CMD_OPEN_DIR_AHEAD] = { "open", answer_open, true, true },
        [OPENHOOK_CMD_OPEN_WALK_AHEAD] = { "open", answer_open, true, true },
};

static const struct oh_command *command_of(uint32_t command)
{
        if (command >= ELEMENTSOF(commands) || !commands[command].handler)
                return NULL;
        return &commands[command];
}

/* ---- logging ------------------------------------------------------------- */

static void log_decision(struct openhook_conn *c, const struct oh_request *req, int result, const struct oh_verdict *v, const char *hint)
{
        struct openhook_server *s = c->server;

        if (!s->log)
                return;
        struct openhook_decision d = {
                .pid = c->pid,
                .command = req->command,
                .path = req->path,
                .path2 = req->path2,
                .flags = req->flags,
                .mode = req->mode,
                .result = result,
                .denied = v && v->denied,
                .hint = hint,
        };
        pthread_mutex_lock(&s->log_lock);
        s->log(&d, s->log_data);
        pthread_mutex_unlock(&s->log_lock);
}

/* Framing that cannot be trusted: say why, then the caller hangs up. */
static int framing_error(struct openhook_conn *c, const struct oh_request *req, const char *reason)
{
        log_decision(c, req, -EPROTO, NULL, reason);
        return -EPROTO;
}

/* ---- the state machine ----------------------------------------------------- */

static void queue_response(struct openhook_conn *c, uint32_t command, int result, int fd)
{
        oh_wire_encode_response(command, result, c->out);
        c->out_len = OH_RESPONSE_SIZE;
        c->out_off = 0;
        c->out_nfds = 0;
        if (fd >= 0)
                c->out_fds[c->out_nfds++] = fd;
}

/* Files sent ahead were opened one after the other, so mostly at
 * consecutive numbers: closed a run at a time.  A run holds only ours. */
static void close_out_fds(struct openhook_conn *c)
{
        size_t run = 0;

        for (size_t i = 0; i < c->out_nfds; i++) {
                if (i + 1 < c->out_nfds && c->out_fds[i + 1] == c->out_fds[i] + 1)
                        continue;
                if (i == run)
                        close(c->out_fds[i]);
                else
                        close_range((unsigned int) c->out_fds[run], (unsigned int) c->out_fds[i], 0);
                run = i + 1;
        }
        c->out_nfds = 0;
}

/* ---- files sent ahead ------------------------------------------------------ */

/* A program that reads one file of a directory and then the next (grep -r,
 * find -exec cat, a compiler's includes) asks with OPEN_AHEAD: after the
 * file it named, the broker opens the regular files that follow that name
 * in the directory, each decided by the policy exactly as if the client
 * had asked for it with the same read-only flags (and logged so, reason
 * "sent ahead"), and sends them in the same reply.  A tree walker that
 * reads what it lists asks with OPEN_DIR_AHEAD when it opens a directory:
 * the regular files from the directory's first entry come with it, each
 * decided likewise with the flags asked for them, then its subdirectories,
 * each decided as an OPEN with the directory's own flags, and their files.
 * Names are listed only through an fd the policy let the client have for
 * reading that directory (the one sent, rewound, for a directory sent).  Only
 * filesystems whose files are plain data (a procfs or sysfs file can do
 * something when opened) and share their directory's st_dev (overlayfs
 * files may not), since an entry is named by that and its d_ino. */

/* What one request sends ahead: the files of directory DIR after NAME
 * (NULL: from the first), opened as OPENs with FLAGS; with DIR_FLAGS
 * (OPEN_DIR_AHEAD) also its subdirectories, each opened as an OPEN with
 * those, and their files: a tree walker opens them next. */
struct ahead_plan {
        char dir[OPENHOOK_PATH_MAX];
        const char *name;
        uint32_t flags;
        uint32_t dir_flags;             /* 0: no subdirectory (never a valid one: O_DIRECTORY) */
        uint64_t dir_dev;
        size_t max;                     /* fds in the reply, the file asked for included */
        unsigned int seen;              /* entries looked at, in every listing */
};

/* Subdirectories looked into per directory, after its files, and how many
 * levels down: a walker descends into them in the order listed. */
#define OH_AHEAD_SUBDIRS 16
#define OH_AHEAD_DEPTH 3

struct ahead_subdir {
        uint64_t ino;
        char name[NAME_MAX + 1];
};

/* An OPEN_AHEAD, or a file sent ahead with it, as the OPEN it is for the
 * log (whose readers know OPEN): its mode field is no creation mode. */
static const struct oh_request *as_open(const struct oh_request *req, const char *path, uint32_t flags,
                                        struct oh_request *out)
{
        *out = *req;
        out->command = OPENHOOK_CMD_OPEN;
        out->flags = flags;
        out->mode = 0;
        out->ahead_flags = 0;
        out->path = path;
        return out;
}

/* The fds a reply to REQ may hold: the file asked for and what its max
 * lets come with it. */
static size_t reply_fds_max(const struct oh_request *req)
{
        return 1 + (req->mode < OPENHOOK_AHEAD_MAX ? req->mode : OPENHOOK_AHEAD_MAX);
}

/* Entries looked at per request, to find the name and then the files. */
#define OH_AHEAD_SCAN_MAX 8192u

static bool reads_only(uint32_t flags)
{
        return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_CREAT | O_TRUNC | O_PATH | O_APPEND)) &&
               (flags & O_TMPFILE) != O_TMPFILE;
}

static bool ahead_flags_ok(uint32_t flags)
{
        return reads_only(flags) && !(flags & O_DIRECTORY);
}

/* A directory's open flags, for the subdirectories sent ahead too. */
static bool dir_flags_ok(uint32_t flags)
{
        return reads_only(flags) && (flags & O_DIRECTORY);
}

static bool plain_data_fs(int dfd)
{
        static const unsigned long ok[] = {
                EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, BTRFS_SUPER_MAGIC, TMPFS_MAGIC,
                F2FS_SUPER_MAGIC, SQUASHFS_MAGIC,
        };
        struct statfs sf;

        if (fstatfs(dfd, &sf) < 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if ((unsigned long) sf.f_type == ok[i])
                        return true;
        return false;
}

/* The directory of PATH (absolute) in DIR, its last component in *NAME.
 * Returns false for a path that names no file in a directory. */
static bool split_parent(const char *path, char dir[OPENHOOK_PATH_MAX], const char **name)
{
        const char *slash = strrchr(path, '/');
        size_t n = (size_t) (slash - path);

        *name = slash + 1;
        if (!**name || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0)
                return false;
        memcpy(dir, path, n);
        strcpy(dir + n, n == 0 ? "/" : "");
        return true;
}

static bool child_path(const char *dir, const char *name, char out[OPENHOOK_PATH_MAX])
{
        return (size_t) snprintf(out, OPENHOOK_PATH_MAX, "%s/%s", strcmp(dir, "/") ? dir : "", name) <
               OPENHOOK_PATH_MAX;
}

#define OH_PREPARED_TTL_NS 100000000ull
/* Bytes of paths kept for the log per prepared reply. */
#define OH_PREPARED_NOTES 16384u

/* Flags that change nothing for a regular file or directory that is no
 * symlink (each entry is one: listed as one, the fd's inode the listed
 * one), or that the client applies itself (close-on-exec). */
static bool same_open(uint32_t a, uint32_t b)
{
        return ((a ^ b) & ~(uint32_t) (O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_LARGEFILE)) == 0;
}

struct conn_walk {
        struct oh_walk walk;
        uint32_t file_flags, dir_flags;
        size_t max;                     /* fds per reply, as last asked */
        bool more;                      /* a reply went out and the walk goes on */
        bool cold;                      /* a prepared reply was not asked for */
        /* The prepared reply's request and entries' ends, for trimming. */
        char path[OPENHOOK_PATH_MAX];
        uint32_t flags;
        uint64_t generation, born;
        unsigned int reserved;          /* fds counted in the server's prepared_fds */
        uint16_t ends[OPENHOOK_AHEAD_MAX];
        bool ready;                     /* a reply is prepared: */
        uint8_t out[OPENHOOK_AHEAD_REPLY_MAX];
        size_t len, nfds;
        int fds[1 + OPENHOOK_AHEAD_MAX];
        /* Its decisions, logged when it is sent (never if it is not):
         * each fd's path and flags. */
        bool deferring;                 /* while it is being prepared */
        size_t nnotes, notes_len;
        uint32_t note_flags[1 + OPENHOOK_AHEAD_MAX];
        uint16_t note_end[1 + OPENHOOK_AHEAD_MAX];
        char notes[OH_PREPARED_NOTES];
};

/* Keeps the decision to open PATH with FLAGS, for the log once the reply
 * being prepared is sent.  Returns false when there is no room left. */
static bool note_prepared(struct conn_walk *cw, const char *path, uint32_t flags)
{
        size_t n = strlen(path) + 1;

        if (cw->nnotes > OPENHOOK_AHEAD_MAX || cw->notes_len + n > sizeof(cw->notes))
                return false;
        memcpy(cw->notes + cw->notes_len, path, n);
        cw->notes_len += n;
        cw->note_flags[cw->nnotes] = flags;
        cw->note_end[cw->nnotes++] = (uint16_t) cw->notes_len;
        return true;
}

/* Logs the first N decisions kept: the entry asked for, then those sent
 * with it. */
static void log_prepared(struct openhook_conn *c, const struct conn_walk *cw, size_t n)
{
        for (size_t i = 0; i < n && i < cw->nnotes; i++) {
                struct oh_request opened = {
                        .command = OPENHOOK_CMD_OPEN,
                        .flags = cw->note_flags[i],
                        .path = cw->notes + (i ? cw->note_end[i - 1] : 0),
                };
                log_decision(c, &opened, 0, NULL, i ? "sent ahead" : NULL);
        }
}



/* Opens DIR/NAME with FLAGS, decided and logged as that OPEN, and adds it
 * to the reply as the entry the listing named (INO).  Returns 1 with the
 * fd in *ADDED (owned by the reply), 0 when it is left out, or -ENOBUFS
 * once the reply is full.  A directory must be the one listed (not a
 * mount point). */
static int ahead_one(struct openhook_conn *c, const struct oh_request *req, const char *dir, uint64_t dir_dev,
                     uint64_t ino, const char *name, uint32_t flags, size_t *len, int *added)
{
        char path[OPENHOOK_PATH_MAX];
        struct oh_request opened;
        struct oh_verdict v;
        struct stat st;

        v.denied = 0;
        v.hint[0] = '\0';

        if (!child_path(dir, name, path))
                return 0;
        _cleanup_close_ int fd = oh_do_open(c->server->policy, path, flags, 0, &v);
        if (fd < 0)
                return 0;
        /* The inode the entry named, so the client can tell whether the
         * name still leads to it; a file replaced meanwhile is never
         * handed out, so no fstat is needed for one.  A directory is
         * listed through this fd, so it must be that one. */
        if ((flags & O_DIRECTORY) && (fstat(fd, &st) < 0 || (uint64_t) st.st_dev != dir_dev ||
                                      (uint64_t) st.st_ino != ino))
                return 0;
        bool deferring = c->walk && c->walk->deferring;
        if (deferring && !note_prepared(c->walk, path, flags))
                return -ENOBUFS;
        int r = oh_wire_ahead_add(c->out, len, dir_dev, ino, name);
        if (r < 0) {
                c->walk->nnotes -= deferring;
                return r;
        }
        if (!deferring)
                log_decision(c, as_open(req, path, flags, &opened), 0, &v, "sent ahead");
        *added = c->out_fds[c->out_nfds++] = TAKE_FD(fd);
        return 1;
}

/* Walks DFD's entries; after the plan's name (or from the first), each
 * regular file goes into the reply until the plan's max are in or the
 * reply is full; subdirectories go into SUBS (at most OH_AHEAD_SUBDIRS,
 * counted in *NSUBS) when the plan sends them.  Returns -ENOBUFS once
 * nothing more can come. */
static int ahead_scan(struct openhook_conn *c, const struct oh_request *req, int dfd, struct ahead_plan *plan,
                      size_t *len, struct ahead_subdir *subs, size_t *nsubs)
{
        uint8_t buf[8192];
        bool after = !plan->name;
        ssize_t n;

        while (c->out_nfds < plan->max && (n = getdents64(dfd, buf, sizeof(buf))) > 0)
                for (ssize_t off = 0; off < n && c->out_nfds < plan->max;) {
                        struct dirent64 *e = (struct dirent64 *) (buf + off);

                        off += e->d_reclen;
                        /* Bounded work per request ("Work per request"):
                         * deep in a huge directory nothing comes ahead. */
                        if (++plan->seen > OH_AHEAD_SCAN_MAX)
                                return -ENOBUFS;
                        if (!after) {
                                after = strcmp(e->d_name, plan->name) == 0;
                                continue;
                        }
                        if (e->d_type == DT_REG) {
                                int added;

                                if (ahead_one(c, req, plan->dir, plan->dir_dev, e->d_ino, e->d_name, plan->flags, len,
                                              &added) < 0)
                                        return -ENOBUFS;
                        } else if (e->d_type == DT_DIR && subs && *nsubs < OH_AHEAD_SUBDIRS &&
                                   strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                                subs[*nsubs].ino = e->d_ino;
                                strcpy(subs[(*nsubs)++].name, e->d_name);
                        }
                }
        return c->out_nfds < plan->max ? 0 : -ENOBUFS;
}

/* Lists directory fd DFD for the plan and rewinds it: a client gets it
 * as a fresh open, at offset 0.  Returns -ENOBUFS when the reply is
 * full, -EIO when the fd could not be rewound (then nothing may be
 * sent). */
static int ahead_list(struct openhook_conn *c, const struct oh_request *req, int dfd, struct ahead_plan *plan,
                      size_t *len, struct ahead_subdir *subs, size_t *nsubs)
{
        int r = ahead_scan(c, req, dfd, plan, len, subs, nsubs);

        return lseek(dfd, 0, SEEK_SET) < 0 ? -EIO : r;
}

/* The subdirectories SUBS[0..N) of the plan's directory, DEPTH levels
 * below the directory asked for, each sent as an OPEN with the plan's
 * directory flags would open it, then its files, then (depth first, down
 * to OH_AHEAD_DEPTH) its own subdirectories.  Returns -ENOBUFS or -EIO as
 * ahead_list(). */
static int ahead_subdirs(struct openhook_conn *c, const struct oh_request *req, struct ahead_plan *plan,
                         const struct ahead_subdir *subs, size_t n, size_t *len, unsigned int depth)
{
        struct ahead_plan sub = *plan;

        sub.name = NULL;
        for (size_t i = 0; i < n; i++) {
                struct ahead_subdir deeper[OH_AHEAD_SUBDIRS];
                size_t ndeeper = 0;
                int fd, r = 0;

                if (child_path(plan->dir, subs[i].name, sub.dir))
                        r = ahead_one(c, req, plan->dir, plan->dir_dev, subs[i].ino, subs[i].name, plan->dir_flags,
                                      len, &fd);
                if (r > 0)
                        r = ahead_list(c, req, fd, &sub, len, depth < OH_AHEAD_DEPTH ? deeper : NULL, &ndeeper);
                if (r >= 0 && ndeeper)
                        r = ahead_subdirs(c, req, &sub, deeper, ndeeper, len, depth + 1);
                plan->seen = sub.seen;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What REQ, answered with FD, may send ahead.  Returns false for nothing:
 * OPEN_AHEAD of a regular file sends what follows it in its directory,
 * OPEN_DIR_AHEAD of a directory what it holds, and what its
 * subdirectories hold. */
static bool ahead_plan(const struct oh_request *req, int fd, struct ahead_plan *plan, struct stat *st)
{
        bool dir = req->command == OPENHOOK_CMD_OPEN_DIR_AHEAD;

        *plan = (struct ahead_plan) {
                .flags = dir ? req->ahead_flags : req->flags,
                .dir_flags = dir ? req->flags : 0,
                .max = reply_fds_max(req),
        };
        if (!ahead_flags_ok(plan->flags) || (dir && !dir_flags_ok(plan->dir_flags)))
                return false;
        if (dir) {
                if (strlen(req->path) >= sizeof(plan->dir))
                        return false;
                strcpy(plan->dir, req->path);
        } else if (!split_parent(req->path, plan->dir, &plan->name))
                return false;
        return fstat(fd, st) == 0 && (dir ? S_ISDIR(st->st_mode) : S_ISREG(st->st_mode));
}

/* Nothing comes after all: the fds already in the reply are closed, and
 * the plain response begin() wrote over is written again. */
static void ahead_cancel(struct openhook_conn *c, const struct oh_request *req)
{
        for (size_t i = 1; i < c->out_nfds; i++)
                close(c->out_fds[i]);
        c->out_nfds = 1;
        oh_wire_encode_response(req->command, 0, c->out);
}

static void send_ahead(struct openhook_conn *c, const struct oh_request *req, int fd)
{
        struct ahead_subdir subs[OH_AHEAD_SUBDIRS];
        struct ahead_plan plan;
        struct oh_verdict v;
        struct stat st;
        size_t nsubs = 0;
        int r;

        v.denied = 0;
        v.hint[0] = '\0';

        if (!c->server->ahead || !c->seqpacket || !ahead_plan(req, fd, &plan, &st))
                return;
        /* Listing the directory is reading it: decided as opendir() (an
         * OPEN_DIR_AHEAD was decided so, and is listed through the fd
         * answered, rewound).  A descriptor of its own for a file's
         * directory.  O_NONBLOCK: a directory has no blocking to restore. */
        _cleanup_close_ int owned = -1;
        int dfd = fd;
        if (!plan.dir_flags) {
                dfd = owned = oh_do_open(c->server->policy, plan.dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC,
                                         0, &v);
                if (dfd < 0 || fstat(dfd, &st) < 0)
                        return;
        }
        if (!plain_data_fs(dfd))
                return;
        plan.dir_dev = (uint64_t) st.st_dev;
        size_t len = oh_wire_ahead_begin(c->out, req->command, (uint64_t) st.st_dev, (uint64_t) st.st_ino);
        if (!plan.dir_flags)
                r = ahead_scan(c, req, dfd, &plan, &len, NULL, NULL);
        else if ((r = ahead_list(c, req, dfd, &plan, &len, subs, &nsubs)) == -EIO) {
                /* The fd answered was listed and could not be rewound (no
                 * filesystem of plain data fails that): not handed out at
                 * its end.  Its files were logged as sent all the same. */
                close_out_fds(c);
                queue_response(c, req->command, -EIO, -1);
                return;
        } else if (r == 0)
                r = ahead_subdirs(c, req, &plan, subs, nsubs, &len, 1);
        /* -EIO from a subdirectory: one fd sent would not be at offset 0. */
        if (r == -EIO || c->out_nfds <= 1)
                ahead_cancel(c, req);
        else
                c->out_len = len;
}

/* ---- a tree walker's next opens ---------------------------------------------- */

/* OPEN_WALK_AHEAD: after the file or directory asked for, what a walker in
 * directory order (lib/walk.h) opens next, each decided as its OPEN with
 * the request's file or directory flags.  The connection keeps the walk,
 * so a request for the entry its last reply stopped before carries on from
 * there, back up to where the walk began, listing each directory once.
 *
 * And it does not wait for that request: once a reply has gone, the next
 * one is prepared in the connection's output while the client works
 * through what it got, on another CPU.  A prepared reply is the reply the
 * request for its first entry would get, decided under the same policy: it
 * is handed out only for exactly that request (path and flags), under the
 * policy it was decided with (a swap drops it) and within
 * OH_PREPARED_TTL_NS of the decision; its decisions are logged as it is
 * sent (a line must not say that a file was sent that never was).  A
 * walk asked for anywhere else drops it, unsent, and the walk: the client
 * is not the walker it seemed, so nothing is prepared until it walks
 * again (a request that fails, or is no walk, leaves it). */

static struct conn_walk *conn_walk(struct openhook_conn *c)
{
        if (!c->walk && (c->walk = calloc(1, sizeof(*c->walk))))
                c->walk->walk.shared = &c->server->walk_bytes;
        return c->walk;
}

/* A reply is being built: its entries' ends are counted from here. */
static int walk_add(struct openhook_conn *c, struct conn_walk *cw, const struct oh_request *req,
                    const struct oh_walk_item *it, size_t *len, int *fd)
{
        bool dir = it->type == DT_DIR;
        int r = ahead_one(c, req, cw->walk.path, cw->walk.dev, it->ino, it->name,
                          dir ? cw->dir_flags : cw->file_flags, len, fd);

        if (r > 0)
                cw->ends[c->out_nfds - 2] = (uint16_t) *len;
        return r;
}

/* The length of a reply OUT cut to its first N entries (it stays in the
 * form that lists them, so more can be added). */
static size_t walk_cut(const struct conn_walk *cw, uint8_t *out, size_t n)
{
        size_t len = n ? cw->ends[n - 1] : OH_AHEAD_HEADER_SIZE;

        oh_wire_ahead_trim(out, (uint32_t) n, len);
        return len;
}

/* Takes the last entry out of the reply (its fd could not be rewound). */
static void walk_drop_last(struct openhook_conn *c, struct conn_walk *cw, size_t *len)
{
        close(c->out_fds[--c->out_nfds]);
        *len = walk_cut(cw, c->out, c->out_nfds - 1);
}

/* Enters directory FD, the walk's entry IT just stepped past, and rewinds
 * FD for whoever gets it.  Returns -EIO when it cannot be rewound. */
static int walk_enter(struct conn_walk *cw, int fd, const struct oh_walk_item *it, unsigned int *budget)
{
        (void) oh_walk_enter(&cw->walk, fd, it->ino, it->name, NULL, budget);
        return lseek(fd, 0, SEEK_SET) < 0 ? -EIO : 0;
}

/* Adds the walk's next entries to the reply until it holds MAX fds, it is
 * full, the walk is over or the budget spent. */
static void walk_fill(struct openhook_conn *c, struct conn_walk *cw, const struct oh_request *req, size_t max,
                      size_t *len, unsigned int *budget)
{
        struct oh_walk_item it;

        while (c->out_nfds < max && *budget > 0 && oh_walk_peek(&cw->walk, &it)) {
                int fd, r = walk_add(c, cw, req, &it, len, &fd);

                (*budget)--;
                if (r < 0)
                        return;
                oh_walk_step(&cw->walk);
                if (r > 0 && it.type == DT_DIR && walk_enter(cw, fd, &it, budget) < 0)
                        walk_drop_last(c, cw, len);
        }
}

/* Whether REQ, answered with the file ST, is the walk's next entry. */
static bool walk_continues(struct conn_walk *cw, const struct oh_request *req, const struct stat *st,
                           struct oh_walk_item *it)
{
        char path[OPENHOOK_PATH_MAX];

        if (!cw->walk.depth || !same_open(cw->file_flags, req->ahead_flags) || !same_open(cw->dir_flags, req->dir_flags) ||
            !oh_walk_peek(&cw->walk, it) || (uint64_t) st->st_dev != cw->walk.dev ||
            (uint64_t) st->st_ino != it->ino || (it->type == DT_DIR) != S_ISDIR(st->st_mode))
                return false;
        return oh_walk_item_path(&cw->walk, it, path) && strcmp(path, req->path) == 0;
}

/* A new walk from REQ's directory FD (ST), or from the file FD's
 * directory, after it. */
static int walk_begin(struct openhook_conn *c, struct conn_walk *cw, const struct oh_request *req, int fd,
                      const struct stat *st, unsigned int *budget)
{
        char dir[OPENHOOK_PATH_MAX];
        const char *name;
        struct oh_verdict v = {};
        struct stat dst;

        cw->file_flags = req->ahead_flags;
        cw->dir_flags = req->dir_flags;
        if (S_ISDIR(st->st_mode)) {
                if (!plain_data_fs(fd))
                        return -EPERM;
                int r = oh_walk_begin(&cw->walk, req->path, (uint64_t) st->st_dev);
                if (r == 0)
                        r = oh_walk_enter(&cw->walk, fd, (uint64_t) st->st_ino, NULL, NULL, budget);
                return lseek(fd, 0, SEEK_SET) < 0 ? -EIO : r;
        }
        if (!split_parent(req->path, dir, &name))
                return -EINVAL;
        /* Listed as opendir() would be, decided so. */
        _cleanup_close_ int dfd = oh_do_open(c->server->policy, dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC,
                                             0, &v);
        if (dfd < 0 || fstat(dfd, &dst) < 0 || dst.st_dev != st->st_dev || !plain_data_fs(dfd))
                return -EPERM;
        int r = oh_walk_begin(&cw->walk, dir, (uint64_t) dst.st_dev);
        return r < 0 ? r : oh_walk_enter(&cw->walk, dfd, (uint64_t) dst.st_ino, NULL, name, budget);
}

static bool walk_flags_ok(const struct oh_request *req, const struct stat *st)
{
        if (!ahead_flags_ok(req->ahead_flags) || !dir_flags_ok(req->dir_flags))
                return false;
        return S_ISDIR(st->st_mode) ? same_open(req->flags, req->dir_flags)
                                    : S_ISREG(st->st_mode) && same_open(req->flags, req->ahead_flags);
}

/* Lets go of the prepared reply, unsent. */
static void prepared_drop(struct openhook_server *s, struct conn_walk *cw)
{
        if (!cw->ready)
                return;
        for (size_t i = 0; i < cw->nfds; i++)
                close(cw->fds[i]);
        cw->ready = false;
        atomic_fetch_sub(&s->prepared_fds, cw->reserved);
        cw->reserved = 0;
}

static void send_walk(struct openhook_conn *c, const struct oh_request *req, int fd)
{
        unsigned int budget = OH_AHEAD_SCAN_MAX;
        struct oh_walk_item it;
        struct conn_walk *cw;
        struct stat st;
        int r;

        if (!c->server->ahead || !c->seqpacket || fstat(fd, &st) < 0 || !walk_flags_ok(req, &st) ||
            !(cw = conn_walk(c)))
                return;
        cw->more = false;
        if (cw->ready) {
                /* Asked for something else: the walk is past what the
                 * client has, and the client no walker, for now. */
                prepared_drop(c->server, cw);
                oh_walk_end(&cw->walk);
                cw->cold = true;
        }
        if (walk_continues(cw, req, &st, &it)) {
                cw->cold = false;
                oh_walk_step(&cw->walk);
                r = it.type == DT_DIR ? walk_enter(cw, fd, &it, &budget) : 0;
        } else {
                r = walk_begin(c, cw, req, fd, &st, &budget);
        }
        if (r < 0) {
                /* Nothing to carry on (and nothing of a walk before). */
                oh_walk_end(&cw->walk);
                if (r == -EIO) {
                        /* The fd answered was listed and cannot be rewound. */
                        close_out_fds(c);
                        queue_response(c, req->command, -EIO, -1);
                }
                return;
        }
        cw->max = reply_fds_max(req);
        size_t len = oh_wire_ahead_begin(c->out, req->command, cw->walk.dev, oh_walk_dir_ino(&cw->walk));
        walk_fill(c, cw, req, cw->max, &len, &budget);
        if (c->out_nfds <= 1)
                ahead_cancel(c, req);
        else
                c->out_len = len;
        cw->more = cw->walk.depth > 0;
}

/* Whether the prepared reply answers REQ: then it goes out, cut to the
 * files REQ has room for. */
static bool prepared_answers(struct openhook_conn *c, struct conn_walk *cw, const struct oh_request *req)
{
        size_t max = reply_fds_max(req);

        if (!same_open(req->flags, cw->flags) || !same_open(req->ahead_flags, cw->file_flags) ||
            !same_open(req->dir_flags, cw->dir_flags) || cw->generation != c->server->generation ||
            oh_spin_now_ns() - cw->born > OH_PREPARED_TTL_NS || strcmp(req->path, cw->path) != 0)
                return false;
        for (size_t i = max; i < cw->nfds; i++)
                close(cw->fds[i]);
        if (cw->nfds > max) {
                cw->nfds = max;
                if (max > 1) {
                        cw->len = walk_cut(cw, cw->out, max - 1);
                } else {
                        oh_wire_encode_response(req->command, 0, cw->out);
                        cw->len = OH_RESPONSE_SIZE;
                }
        }
        log_prepared(c, cw, cw->nfds);
        memcpy(c->out, cw->out, cw->len);
        memcpy(c->out_fds, cw->fds, cw->nfds * sizeof(int));
        c->out_len = cw->len;
        c->out_off = 0;
        c->out_nfds = cw->nfds;
        atomic_fetch_sub(&c->server->prepared_fds, cw->reserved);
        cw->reserved = 0;
        cw->ready = false;
        cw->more = cw->walk.depth > 0;
        return true;
}

/* Answers REQ with the reply prepared for it, if there is one. */
static bool answer_prepared(struct openhook_conn *c, const struct oh_request *req)
{
        struct conn_walk *cw = c->walk;

        if (req->command != OPENHOOK_CMD_OPEN_WALK_AHEAD || req->status < 0 || !cw || !cw->ready)
                return false;
        oh_server_policy_get(c->server);
        bool hit = prepared_answers(c, cw, req);
        oh_server_policy_put(c->server);
        return hit;
}

/* The walk's next entry that opens, as the OPEN that asks for it: its fd
 * answers, and the walk is past it. */
static int prepare_first(struct openhook_conn *c, struct conn_walk *cw, unsigned int *budget)
{
        struct oh_walk_item it;

        while (*budget > 0 && oh_walk_peek(&cw->walk, &it)) {
                struct oh_verdict v = {};
                struct stat st;
                bool dir = it.type == DT_DIR;

                (*budget)--;
                cw->flags = dir ? cw->dir_flags : cw->file_flags;
                if (!oh_walk_item_path(&cw->walk, &it, cw->path))
                        return -ENAMETOOLONG;
                oh_walk_step(&cw->walk);
                _cleanup_close_ int fd = oh_do_open(c->server->policy, cw->path, cw->flags, 0, &v);
                if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t) st.st_ino != it.ino ||
                    (uint64_t) st.st_dev != cw->walk.dev || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
                        continue;
                if (dir && walk_enter(cw, fd, &it, budget) < 0)
                        continue;
                if (!note_prepared(cw, cw->path, cw->flags))
                        return -ENOBUFS;
                return TAKE_FD(fd);
        }
        return -ENOENT;
}

/* Prepares the reply to the walk's next entry (above), if the client has
 * been asking for just that and the broker has fds to spare. */
static void walk_prepare(struct openhook_conn *c)
{
        struct openhook_server *s = c->server;
        struct conn_walk *cw = c->walk;
        unsigned int budget = OH_AHEAD_SCAN_MAX;
        struct oh_request none = { .command = OPENHOOK_CMD_OPEN_WALK_AHEAD };

        if (!cw || !cw->more || cw->cold || cw->ready || !s->prepare || c->out_len || c->in_len)
                return;
        cw->more = false;
        unsigned int want = (unsigned int) cw->max;
        if (atomic_fetch_add(&s->prepared_fds, want) + want > s->prepared_max) {
                atomic_fetch_sub(&s->prepared_fds, want);
                return;
        }
        oh_server_policy_get(s);
        cw->deferring = true;
        cw->nnotes = cw->notes_len = 0;
        int fd = prepare_first(c, cw, &budget);
        if (fd >= 0) {
                /* Built where replies are (free now), then set aside. */
                queue_response(c, none.command, 0, fd);
                size_t len = oh_wire_ahead_begin(c->out, none.command, cw->walk.dev, oh_walk_dir_ino(&cw->walk));
                walk_fill(c, cw, &none, cw->max, &len, &budget);
                if (c->out_nfds > 1)
                        c->out_len = len;
                else
                        oh_wire_encode_response(none.command, 0, c->out);
                memcpy(cw->out, c->out, c->out_len);
                memcpy(cw->fds, c->out_fds, c->out_nfds * sizeof(int));
                cw->len = c->out_len;
                cw->nfds = c->out_nfds;
                c->out_len = c->out_nfds = 0;
                cw->generation = s->generation;
                cw->born = oh_spin_now_ns();
                cw->reserved = want;
                cw->ready = true;
        }
        cw->deferring = false;
        oh_server_policy_put(s);
        if (fd < 0)
                atomic_fetch_sub(&s->prepared_fds, want);
}

static void answer(struct openhook_conn *c, const struct oh_request *req)
{
        struct oh_verdict v;
        struct oh_request opened;
        const char *hint = NULL;
        int result, fd = -1;

        v.denied = 0;
        v.hint[0] = '\0';

        if (answer_prepared(c, req))
                return;
        const struct oh_command *cmd = command_of(req->command);
        if (req->status < 0) {
                result = req->status;
                hint = req->reason;
        } else if (!cmd) {
                result = -ENOSYS;
        } else {
                /* Decided and done under one policy: a swap waits. */
                oh_server_policy_get(c->server);
                int r = cmd->handler(c, req, &v);
                if (r >= 0 && cmd->gives_fd)
                        fd = r;
                result = r < 0 ? r : 0;
                if (v.hint[0])
                        hint = v.hint;
                log_decision(c, cmd->sends_ahead ? as_open(req, req->path, req->flags, &opened) : req, result, &v,
                             hint);
                queue_response(c, req->command, result, fd);
                /* Under the same policy as the file asked for. */
                if (fd >= 0 && req->command == OPENHOOK_CMD_OPEN_WALK_AHEAD)
                        send_walk(c, req, fd);
                else if (fd >= 0 && cmd->sends_ahead)
                        send_ahead(c, req, fd);
                oh_server_policy_put(c->server);
                return;
        }

        log_decision(c, cmd && cmd->sends_ahead ? as_open(req, req->path, req->flags, &opened) : req, result, &v,
                     hint);
        queue_response(c, req->command, result, fd);
}

/* Sends what is pending.  Returns 0 once nothing is left, -EAGAIN while the
 * peer is not reading, or another -errno. */
static int flush(struct openhook_conn *c)
{
        while (c->out_off < c->out_len) {
                ssize_t n = oh_send_fds(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                        c->out_fds, c->out_nfds);
                if (n < 0)
                        return (int) n;
                /* The fds went with the first byte; ours are duplicates. */
                close_out_fds(c);
                c->out_off += (size_t) n;
        }
        c->out_len = c->out_off = 0;
        return 0;
}

/* Answers the first request in the input buffer.  Returns 1 if one was
 * answered, 0 if more bytes are needed, -EPROTO to hang up. */
static int handle_buffered(struct openhook_conn *c)
{
        struct oh_request req;
        struct oh_pathbuf paths;

        if (c->in_len == 0)
                return 0;
        int r = oh_wire_decode(c->in, c->in_len, &req, &paths);
        if (r < 0)
                return framing_error(c, &req, req.reason);
        if (c->seqpacket) {
                /* One message per datagram: anything else means the sender
                 * and we disagree about where messages end. */
                if (r == 0)
                        return framing_error(c, &req, "datagram shorter than its message_size");
                if ((size_t) r != c->in_len)
                        return framing_error(c, &req, "datagram longer than its message_size");
        }
        if (r == 0)
                return 0;

        answer(c, &req);
        c->in_len -= (size_t) r;
        memmove(c->in, c->in + r, c->in_len);
        return 1;
}

/* Reads more input.  Returns 1 if bytes (or the end) arrived, 0 if none are
 * there yet, or -errno to hang up. */
static int fill(struct openhook_conn *c)
{
        struct oh_received rc;
        struct oh_request none = {};
        ssize_t n;

        /* MSG_TRUNC makes recv() report a datagram's real length, so one
         * larger than any valid message is recognised, not cut silently. */
        n = oh_recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
                    MSG_CMSG_CLOEXEC | (c->seqpacket ? MSG_TRUNC : 0), &rc);
        /* A client has no business sending us fds: never keep one. */
        oh_received_close(&rc);
        if (n == -EAGAIN)
                return 0;
        if (n < 0)
                return -ECONNRESET;
        c->pid = rc.pid > 0 ? rc.pid : c->peer_pid;
        if (n == 0) {
                c->eof = true;
                return 1;
        }
        if (rc.trunc || (size_t) n > sizeof(c->in) - c->in_len)
                return framing_error(c, &none, "datagram above OPENHOOK_MSG_MAX");
        c->in_len += (size_t) n;
        return 1;
}

/* After an answer with nothing left buffered: a client pipelining on a
 * stream has usually sent its next request by now, and reading it here
 * spares the trip through the host's poll.  A datagram client nearly
 * always waits for its answer before the next, so asking its socket again
 * would be a syscall that finds nothing.  Returns 0 or -errno. */
static int read_ahead(struct openhook_conn *c)
{
        if (c->seqpacket || c->eof || c->in_len > 0)
                return 0;
        int r = fill(c);
        return r < 0 ? r : 0;
}

int openhook_conn_process(struct openhook_conn *c)
{
        unsigned int answered;

        return oh_conn_process(c, &answered);
}

/* One request per call: a request's cost is not known until it has been
 * paid (one path can take thousands of lookups), so a connection with
 * requests queued gets no more than one before the host's other
 * connections have had their turn.  The reply is sent at once. */
int oh_conn_process(struct openhook_conn *c, unsigned int *answered)
{
        *answered = 0;
        c->backlog = false;
        for (;;) {
                int r = flush(c);
                if (r == -EAGAIN)
                        return 0;
                if (r < 0)
                        return -ECONNRESET;
                if (*answered) {
                        walk_prepare(c);
                        r = read_ahead(c);
                        if (r < 0)
                                return r;
                        c->backlog = c->in_len > 0;
                        return 0;
                }

                r = handle_buffered(c);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *answered = 1;
                        continue;
                }
                if (c->eof)
                        return -ECONNRESET;
                r = fill(c);
                if (r <= 0)
                        return r;
        }
}

uint32_t openhook_conn_events(const struct openhook_conn *c)
{
        /* With work already buffered there is nothing to wait for: asking
         * for POLLOUT (a socket is nearly always writable) brings the host
         * straight back to openhook_conn_process(). */
        if (c->out_len > 0 || c->backlog)
                return POLLOUT;
        return POLLIN;
}

int openhook_conn_fd(const struct openhook_conn *c)
{
        return c->fd;
}

void openhook_conn_free(struct openhook_conn *c)
{
        if (!c)
                return;
        if (c->walk) {
                prepared_drop(c->server, c->walk);
                oh_walk_end(&c->walk->walk);
                free(c->walk);
        }
        close_out_fds(c);
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

static pid_t peer_pid(int fd)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return 0;
        return cred.pid;
}

static int prepare_socket(int fd, bool *seqpacket)
{
        int type = 0, one = 1;
        socklen_t len = sizeof(type);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return oh_negerrno();
        if (type != SOCK_STREAM && type != SOCK_SEQPACKET)
                return -EPROTOTYPE;
        *seqpacket = type == SOCK_SEQPACKET;

        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return oh_negerrno();
        /* Every message then carries its sender's pid, for the log. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return oh_negerrno();
        return 0;
}

int openhook_server_add(struct openhook_server *s, int fd, struct openhook_conn **ret)
{
        _cleanup_close_ int owned = fd;
        bool seqpacket;

        if (!s || fd < 0 || !ret)
                return -EINVAL;
        int r = prepare_socket(fd, &seqpacket);
        if (r < 0)
                return r;

        struct openhook_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = TAKE_FD(owned);
        c->seqpacket = seqpacket;
        c->peer_pid = peer_pid(c->fd);
        *ret = c;
        return 0;
}

static void policy_lock_init(pthread_rwlock_t *lock);

/* Fds held in replies prepared for walkers, in all: a quarter of the fd
 * limit, so that preparing never makes an open fail. */
static unsigned int prepared_max(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return 256;
        return rl.rlim_cur / 4 < 65536 ? (unsigned int) (rl.rlim_cur / 4) : 65536;
}

int openhook_server_new(const struct openhook_policy *policy, struct openhook_server **ret)
{
        if (!policy || !ret)
                return -EINVAL;

        struct openhook_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->policy = policy;
        s->prepared_max = prepared_max();
        pthread_mutex_init(&s->log_lock, NULL);
        policy_lock_init(&s->policy_lock);
        /* Made now so openhook_server_stop() has nothing to set up and can
         * be called from a signal handler at any time. */
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->stop_fd < 0) {
                int r = oh_negerrno();
                pthread_mutex_destroy(&s->log_lock);
                pthread_rwlock_destroy(&s->policy_lock);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void openhook_server_free(struct openhook_server *s)
{
        if (!s)
                return;
        close(s->stop_fd);
        pthread_mutex_destroy(&s->log_lock);
        pthread_rwlock_destroy(&s->policy_lock);
        free(s);
}

/* A writer must not wait behind an endless stream of requests: with
 * glibc's default, readers that keep arriving would starve a swap. */
static void policy_lock_init(pthread_rwlock_t *lock)
{
        pthread_rwlockattr_t attr;

        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(lock, &attr);
        pthread_rwlockattr_destroy(&attr);
}

const struct openhook_policy *oh_server_policy_get(struct openhook_server *s)
{
        pthread_rwlock_rdlock(&s->policy_lock);
        return s->policy;
}

void oh_server_policy_put(struct openhook_server *s)
{
        pthread_rwlock_unlock(&s->policy_lock);
}

int openhook_server_set_policy(struct openhook_server *s, const struct openhook_policy *policy)
{
        if (!s || !policy)
                return -EINVAL;
        pthread_rwlock_wrlock(&s->policy_lock);
        s->policy = policy;
        s->generation++;
        pthread_rwlock_unlock(&s->policy_lock);
        return 0;
}

void openhook_server_set_log(struct openhook_server *s, openhook_log_fn fn, void *userdata)
{
        s->log = fn;
        s->log_data = userdata;
}

void openhook_server_set_ahead(struct openhook_server *s, int how)
{
        s->ahead = how & OPENHOOK_AHEAD_SEND;
        s->prepare = s->ahead && (how & OPENHOOK_AHEAD_PREPARE);
}

void openhook_server_set_add_conn(struct openhook_server *s, openhook_add_conn_fn fn, void *userdata)
{
        s->add_conn = fn;
        s->add_conn_data = userdata;
}

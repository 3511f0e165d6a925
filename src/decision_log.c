/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decision_log.h"
#include "util.h"

struct oh_decision_log {
        int fd;                 /* the JSON log, or -1 */
        unsigned int flags;
};

int oh_decision_log_new(const char *file, unsigned int flags, struct oh_decision_log **ret)
{
        _cleanup_close_ int fd = -1;
        struct oh_decision_log *log;

        if (file) {
                fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
                if (fd < 0)
                        return -errno;
        }
        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->fd = TAKE_FD(fd);
        log->flags = flags;
        *ret = log;
        return 0;
}

void oh_decision_log_free(struct oh_decision_log *log)
{
        if (!log)
                return;
        if (log->fd >= 0)
                close(log->fd);
        free(log);
}

/* ---- A line built in memory, sized up front so appends never fail ------ */

struct line {
        char *p;
        size_t len, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
        if (n > l->cap - l->len)
                n = l->cap - l->len;    /* cannot happen: the caller sized it */
        memcpy(l->p + l->len, s, n);
        l->len += n;
}

static void puts_(struct line *l, const char *s)
{
        put(l, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct line *l, const char *fmt, ...)
{
        char tmp[128];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Bytes a string can take once escaped: every byte may become "\udcXX". */
static size_t escaped_max(const char *s)
{
        return s ? 6 * strlen(s) + 2 : 4;
}

/* The length of the valid UTF-8 sequence at S (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
        unsigned char c = s[0];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4;
        else
                return 0;
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF
         * are ruled out by the range of the second byte. */
        if (c == 0xe0)
                lo = 0xa0;
        else if (c == 0xed)
                hi = 0x9f;
        else if (c == 0xf0)
                lo = 0x90;
        else if (c == 0xf4)
                hi = 0x8f;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

static void put_json_string(struct line *l, const char *str)
{
        const unsigned char *s = (const unsigned char *)str;

        if (!str) {
                puts_(l, "null");
                return;
        }
        puts_(l, "\"");
        while (*s) {
                size_t n = utf8_len(s);

                if (n == 0)
                        putf(l, "\\udc%02x", *s++);
                else if (*s == '"' || *s == '\\')
                        putf(l, "\\%c", *s++);
                else if (*s < 0x20 || *s == 0x7f)
                        putf(l, "\\u%04x", *s++);
                else {
                        put(l, (const char *)s, n);
                        s += n;
                }
        }
        puts_(l, "\"");
}

/* For the terminal: a path that contains a newline or escape sequence must
 * not be able to forge or garble lines. */
static void put_human_string(struct line *l, const char *str)
{
        const unsigned char *s = (const unsigned char *)str;

        while (*s) {
                size_t n = utf8_len(s);

                if (n == 0 || *s < 0x20 || *s == 0x7f)
                        putf(l, "\\x%02x", *s++);
                else if (*s == '\\')
                        putf(l, "\\%c", *s++);
                else {
                        put(l, (const char *)s, n);
                        s += n;
                }
        }
}

/* ---- Names -------------------------------------------------------------- */

static const char *command_name(uint32_t command)
{
        static const char *const names[] = {
                [OPENHOOK_CMD_OPEN] = "open",
                [OPENHOOK_CMD_MKDIR] = "mkdir",
                [OPENHOOK_CMD_UNLINK] = "unlink",
                [OPENHOOK_CMD_RMDIR] = "rmdir",
                [OPENHOOK_CMD_RENAME] = "rename",
                [OPENHOOK_CMD_SYMLINK] = "symlink",
                [OPENHOOK_CMD_LINK] = "link",
                [OPENHOOK_CMD_TRUNCATE] = "truncate",
                [OPENHOOK_CMD_CONNECT] = "connect",
                [OPENHOOK_CMD_CHMOD] = "chmod",
                [OPENHOOK_CMD_UTIMENS] = "utimens",
                [OPENHOOK_CMD_ACCESS] = "access",
                [OPENHOOK_CMD_CHOWN] = "chown",
        };

        static const char *const supervised[] = {
                [OPENHOOK_DECISION_SOCKET_CONNECT - 0x100] = "connect to socket",
                [OPENHOOK_DECISION_SOCKET_SEND - 0x100] = "send to socket",
                [OPENHOOK_DECISION_FCHMOD - 0x100] = "fchmod",
                [OPENHOOK_DECISION_FCHOWN - 0x100] = "fchown",
                [OPENHOOK_DECISION_FUTIMENS - 0x100] = "futimens",
                [OPENHOOK_DECISION_FSETXATTR - 0x100] = "fsetxattr",
                [OPENHOOK_DECISION_FREMOVEXATTR - 0x100] = "fremovexattr",
                [OPENHOOK_DECISION_FSETFLAGS - 0x100] = "set inode flags of",
                [OPENHOOK_DECISION_IOCTL - 0x100] = "ioctl",
                [OPENHOOK_DECISION_KEYRING - 0x100] = "keyring call",
                [OPENHOOK_DECISION_SOCKET - 0x100] = "socket",
                [OPENHOOK_DECISION_EXEC - 0x100] = "exec",
        };

        if (command < ELEMENTSOF(names) && names[command])
                return names[command];
        if (command >= 0x100 && command - 0x100 < ELEMENTSOF(supervised) && supervised[command - 0x100])
                return supervised[command - 0x100];
        return "unknown";
}

struct flag_name {
        uint32_t value;
        const char *name;
};

/* Composite flags come before their parts so they are named whole. */
static const struct flag_name open_flags[] = {
        { O_TMPFILE, "O_TMPFILE" },
        { O_SYNC, "O_SYNC" },
        { O_CREAT, "O_CREAT" },
        { O_EXCL, "O_EXCL" },
        { O_NOCTTY, "O_NOCTTY" },
        { O_TRUNC, "O_TRUNC" },
        { O_APPEND, "O_APPEND" },
        { O_NONBLOCK, "O_NONBLOCK" },
        { O_DSYNC, "O_DSYNC" },
        { O_ASYNC, "O_ASYNC" },
        { O_DIRECT, "O_DIRECT" },
        { 0100000, "O_LARGEFILE" },     /* the kernel's value; 0 in 64-bit libc */
        { O_DIRECTORY, "O_DIRECTORY" },
        { O_NOFOLLOW, "O_NOFOLLOW" },
        { O_NOATIME, "O_NOATIME" },
        { O_CLOEXEC, "O_CLOEXEC" },
        { O_PATH, "O_PATH" },
};

static const struct flag_name rename_flags[] = {
        { 1u << 0, "RENAME_NOREPLACE" },
        { 1u << 1, "RENAME_EXCHANGE" },
        { 1u << 2, "RENAME_WHITEOUT" },
};

/* Calls EMIT for each flag name, then for each unknown bit as "0x...". */
static void for_each_flag(uint32_t command, uint32_t flags, void (*emit)(struct line *, const char *, bool),
                          struct line *l)
{
        const struct flag_name *table = NULL;
        size_t n = 0;
        bool first = true;
        char hex[16];

        if (command == OPENHOOK_CMD_OPEN) {
                static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

                table = open_flags;
                n = ELEMENTSOF(open_flags);
                if (!(flags & O_PATH)) {
                        emit(l, acc[flags & O_ACCMODE], first);
                        first = false;
                }
                flags &= ~(uint32_t)O_ACCMODE;
        } else if (command == OPENHOOK_CMD_RENAME) {
                table = rename_flags;
                n = ELEMENTSOF(rename_flags);
        } else
                return;

        for (size_t i = 0; i < n; i++)
                if ((flags & table[i].value) == table[i].value) {
                        emit(l, table[i].name, first);
                        first = false;
                        flags &= ~table[i].value;
                }
        for (uint32_t bit = 1; flags; bit <<= 1)
                if (flags & bit) {
                        snprintf(hex, sizeof(hex), "0x%" PRIx32, bit);
                        emit(l, hex, first);
                        first = false;
                        flags &= ~bit;
                }
}

static void emit_json(struct line *l, const char *name, bool first)
{
        if (!first)
                puts_(l, ",");
        put_json_string(l, name);
}

static void emit_human(struct line *l, const char *name, bool first)
{
        if (!first)
                puts_(l, "|");
        puts_(l, name);
}

/* ---- The two outputs ----------------------------------------------------- */

static void write_line(int fd, const struct line *l)
{
        size_t done = 0;

        /* One write() is what keeps concurrent lines whole; the loop only
         * finishes a line the kernel cut short (a full disk). */
        while (done < l->len) {
                ssize_t n = write(fd, l->p + done, l->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                done += (size_t)n;
        }
}

static void put_time(struct line *l)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        putf(l, "\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

static const char *decision_name(const struct openhook_decision *d)
{
        if (d->denied)
                return "deny";
        return d->result < 0 ? "error" : "allow";
}

static void log_json(int fd, const struct openhook_decision *d)
{
        size_t cap = 1024 + escaped_max(d->path) + escaped_max(d->path2) + escaped_max(d->hint);
        _cleanup_free_ char *p = malloc(cap);
        struct line l = { p, 0, cap };
        int err = d->result < 0 ? -d->result : 0;
        const char *errname = err ? strerrorname_np(err) : NULL;

        if (!p)
                return;
        puts_(&l, "{\"time\":");
        put_time(&l);
        putf(&l, ",\"pid\":%ld,\"command\":", (long)d->pid);
        put_json_string(&l, command_name(d->command));
        putf(&l, ",\"command_number\":%" PRIu32 ",\"path\":", d->command);
        put_json_string(&l, d->path);
        puts_(&l, ",\"path2\":");
        put_json_string(&l, d->path2);
        putf(&l, ",\"flags\":%" PRIu32 ",\"flag_names\":[", d->flags);
        for_each_flag(d->command, d->flags, emit_json, &l);
        putf(&l, "],\"mode\":%" PRIu32 ",\"decision\":", d->mode);
        put_json_string(&l, decision_name(d));
        puts_(&l, ",\"errno\":");
        put_json_string(&l, errname);
        putf(&l, ",\"errno_number\":%d", err);
        if (d->hint && d->hint[0]) {
                puts_(&l, d->denied ? ",\"hint\":" : ",\"reason\":");
                put_json_string(&l, d->hint);
        }
        puts_(&l, "}\n");
        write_line(fd, &l);
}

static const char *open_purpose(uint32_t flags)
{
        if (flags & O_PATH)
                return "as a path";
        switch (flags & O_ACCMODE) {
        case O_RDONLY:
                return "for reading";
        case O_WRONLY:
                return "for writing";
        default:
                return "for reading and writing";
        }
}

/* "openhook: denied open /data/x for writing (O_WRONLY): add --allow w:/data/x" */
static void log_human(const struct openhook_decision *d)
{
        size_t cap = 512 + escaped_max(d->path) + escaped_max(d->path2) + escaped_max(d->hint);
        _cleanup_free_ char *p = malloc(cap);
        struct line l = { p, 0, cap };

        if (!p)
                return;
        putf(&l, "openhook: denied %s ", command_name(d->command));
        if (d->command == OPENHOOK_CMD_SYMLINK && d->path2) {
                put_human_string(&l, d->path2);
                puts_(&l, " -> ");
        }
        put_human_string(&l, d->path ? d->path : "(no path)");
        if (d->path2 && d->command != OPENHOOK_CMD_SYMLINK) {
                puts_(&l, " to ");
                put_human_string(&l, d->path2);
        }
        if (d->command == OPENHOOK_CMD_OPEN) {
                putf(&l, " %s (", open_purpose(d->flags));
                for_each_flag(d->command, d->flags, emit_human, &l);
                puts_(&l, ")");
        }
        if (d->hint && d->hint[0]) {
                puts_(&l, strncmp(d->hint, "--allow", 7) == 0 ? ": add " : ": ");
                put_human_string(&l, d->hint);
        }
        puts_(&l, "\n");
        write_line(STDERR_FILENO, &l);
}

/* The server hangs up on framing it cannot trust; whoever runs the broker
 * should learn that a client is broken or hostile. */
static void log_hangup(const struct openhook_decision *d)
{
        size_t cap = 256 + escaped_max(d->hint);
        _cleanup_free_ char *p = malloc(cap);
        struct line l = { p, 0, cap };

        if (!p)
                return;
        putf(&l, "openhook: closed the connection of pid %ld: ", (long)d->pid);
        put_human_string(&l, d->hint && d->hint[0] ? d->hint : "malformed message");
        puts_(&l, "\n");
        write_line(STDERR_FILENO, &l);
}

void oh_decision_log_write(const struct openhook_decision *d, void *userdata)
{
        struct oh_decision_log *log = userdata;

        if (log->fd >= 0)
                log_json(log->fd, d);
        if (log->flags & OH_DECISION_LOG_QUIET)
                return;
        /* A refused path that does not exist (openhook run tells the
         * program so) is what programs probing for optional files meet
         * all the time: nothing to act on. */
        if (d->denied && d->result != -ENOENT && d->result != -ENOTDIR)
                log_human(d);
        else if (d->result == -EPROTO)
                log_hangup(d);
}

/* {"time":...,"event":"reload","files":[...],"rules":N,"result":"ok"}, or
 * "result":"error" with "error":"FILE:LINE: ..." (the old policy stays). */
void oh_decision_log_reload(struct oh_decision_log *log, const char *const *files, size_t n, size_t rules,
                            const char *error)
{
        size_t cap = 256 + escaped_max(error);
        _cleanup_free_ char *p = NULL;
        struct line l;

        if (log->fd < 0)
                return;
        for (size_t i = 0; i < n; i++)
                cap += escaped_max(files[i]) + 1;
        p = malloc(cap);
        if (!p)
                return;
        l = (struct line) { p, 0, cap };
        puts_(&l, "{\"time\":");
        put_time(&l);
        puts_(&l, ",\"event\":\"reload\",\"files\":[");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        puts_(&l, ",");
                put_json_string(&l, files[i]);
        }
        putf(&l, "],\"rules\":%zu,\"result\":", rules);
        put_json_string(&l, error ? "error" : "ok");
        if (error) {
                puts_(&l, ",\"error\":");
                put_json_string(&l, error);
        }
        puts_(&l, "}\n");
        write_line(log->fd, &l);
}

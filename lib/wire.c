/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire codec.  Every command's payload is a short sequence of fields,
 * described once in a table that both the decoder and the encoder walk, so
 * the two can never disagree about a layout.  All integers are in host byte
 * order (the protocol is only spoken on one machine). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"
#include "wire.h"

enum field {
        F_END = 0,
        F_FLAGS,        /* u32 -> flags */
        F_MODE,         /* u32 -> mode */
        F_LENGTH,       /* u64 -> length */
        F_TIMES,        /* 4 x u64 -> times */
        F_UID,          /* u32 -> uid */
        F_GID,          /* u32 -> gid */
        F_PATH,         /* u16 len + bytes, absolute -> path */
        F_TARGET,       /* u16 len + bytes, any non-empty string -> path */
        F_PATH2,        /* u16 len + bytes, absolute -> path2 */
        F_AHEAD_FLAGS,  /* u32 -> ahead_flags */
        F_DIR_FLAGS,    /* u32 -> dir_flags */
};

struct layout {
        bool known;
        uint8_t fields[5];
};

static const struct layout layouts[] = {
        [OPENHOOK_CMD_OPEN]     = { true, { F_FLAGS, F_MODE, F_PATH } },
        [OPENHOOK_CMD_MKDIR]    = { true, { F_MODE, F_PATH } },
        [OPENHOOK_CMD_UNLINK]   = { true, { F_PATH } },
        [OPENHOOK_CMD_RMDIR]    = { true, { F_PATH } },
        [OPENHOOK_CMD_RENAME]   = { true, { F_FLAGS, F_PATH, F_PATH2 } },
        [OPENHOOK_CMD_SYMLINK]  = { true, { F_TARGET, F_PATH2 } },
        [OPENHOOK_CMD_LINK]     = { true, { F_PATH, F_PATH2 } },
        [OPENHOOK_CMD_TRUNCATE] = { true, { F_LENGTH, F_PATH } },
        [OPENHOOK_CMD_CONNECT]  = { true, { F_END } },
        [OPENHOOK_CMD_CHMOD]    = { true, { F_MODE, F_FLAGS, F_PATH } },
        [OPENHOOK_CMD_UTIMENS]  = { true, { F_FLAGS, F_TIMES, F_PATH } },
        [OPENHOOK_CMD_ACCESS]   = { true, { F_MODE, F_FLAGS, F_PATH } },
        [OPENHOOK_CMD_CHOWN]    = { true, { F_UID, F_GID, F_FLAGS, F_PATH } },
        /* mode carries the most files to send ahead (PROTOCOL.md) */
        [OPENHOOK_CMD_OPEN_AHEAD] = { true, { F_FLAGS, F_MODE, F_PATH } },
        [OPENHOOK_CMD_OPEN_DIR_AHEAD] = { true, { F_FLAGS, F_MODE, F_AHEAD_FLAGS, F_PATH } },
        [OPENHOOK_CMD_OPEN_WALK_AHEAD] = { true, { F_FLAGS, F_MODE, F_AHEAD_FLAGS, F_DIR_FLAGS, F_PATH } },
};

static const struct layout *layout_of(uint32_t command)
{
        if (command >= ELEMENTSOF(layouts) || !layouts[command].known)
                return NULL;
        return &layouts[command];
}

/* ---- decoding ------------------------------------------------------------ */

struct cursor {
        const uint8_t *p;
        size_t left;
};

static bool take(struct cursor *c, void *out, size_t n)
{
        if (c->left < n)
                return false;
        memcpy(out, c->p, n);
        c->p += n;
        c->left -= n;
        return true;
}

struct span {
        const uint8_t *p;
        size_t len;
};

static bool take_span(struct cursor *c, struct span *s)
{
        uint16_t len;

        if (!take(c, &len, sizeof(len)) || c->left < len)
                return false;
        s->p = c->p;
        s->len = len;
        c->p += len;
        c->left -= len;
        return true;
}

/* Checks one path-like field and copies it NUL-terminated into OUT.  One
 * trailing NUL is tolerated because some clients send C strings with it. */
static int check_path(struct span s, bool absolute, char out[OPENHOOK_PATH_MAX], const char **reason)
{
        size_t n = s.len;

        if (n > 0 && s.p[n - 1] == '\0')
                n--;
        if (memchr(s.p, '\0', n)) {
                *reason = "path contains a NUL byte";
                return -EINVAL;
        }
        if (n == 0) {
                *reason = "empty path";
                return -ENOENT;
        }
        if (n >= OPENHOOK_PATH_MAX) {
                *reason = "path too long";
                return -ENAMETOOLONG;
        }
        if (absolute && s.p[0] != '/') {
                *reason = "path is not absolute";
                return -EINVAL;
        }
        memcpy(out, s.p, n);
        out[n] = '\0';
        return 0;
}

static int decode_payload(const struct layout *l, struct cursor *c, struct oh_request *req, struct oh_pathbuf *paths)
{
        struct span spans[2] = {};
        bool absolute[2] = { true, true };
        size_t nspans = 0;

        /* Framing first: a payload whose fields do not fit cannot be
         * trusted, whatever else is wrong with it. */
        for (size_t i = 0; i < ELEMENTSOF(l->fields) && l->fields[i] != F_END; i++) {
                bool ok;

                switch (l->fields[i]) {
                case F_FLAGS:
                        ok = take(c, &req->flags, sizeof(req->flags));
                        break;
                case F_MODE:
                        ok = take(c, &req->mode, sizeof(req->mode));
                        break;
                case F_LENGTH:
                        ok = take(c, &req->length, sizeof(req->length));
                        break;
                case F_TIMES:
                        ok = take(c, req->times, sizeof(req->times));
                        break;
                case F_UID:
                        ok = take(c, &req->uid, sizeof(req->uid));
                        break;
                case F_GID:
                        ok = take(c, &req->gid, sizeof(req->gid));
                        break;
                case F_AHEAD_FLAGS:
                        ok = take(c, &req->ahead_flags, sizeof(req->ahead_flags));
                        break;
                case F_DIR_FLAGS:
                        ok = take(c, &req->dir_flags, sizeof(req->dir_flags));
                        break;
                case F_TARGET:
                        absolute[nspans] = false;
                        __attribute__((fallthrough));
                case F_PATH:
                case F_PATH2:
                        ok = take_span(c, &spans[nspans++]);
                        break;
                default:
                        ok = false;
                }
                if (!ok) {
                        req->reason = "payload shorter than its fields";
                        return -EPROTO;
                }
        }

        if (c->left > 0) {
                req->status = -EINVAL;
                req->reason = "bytes left over after the fields";
                return 0;
        }

        char *out[2] = { paths->a, paths->b };
        const char **dest[2] = { &req->path, &req->path2 };
        for (size_t i = 0; i < nspans; i++) {
                int r = check_path(spans[i], absolute[i], out[i], &req->reason);
                if (r < 0) {
                        req->status = r;
                        return 0;
                }
                *dest[i] = out[i];
        }
        return 0;
}

int oh_wire_decode(const uint8_t *buf, size_t len, struct oh_request *req, struct oh_pathbuf *paths)
{
        struct cursor c = { buf, len };
        uint32_t size = 0;

        *req = (struct oh_request) {};

        /* The size alone already tells whether the framing can be trusted,
         * so judge it as soon as it has arrived. */
        if (!take(&c, &size, sizeof(size)))
                return 0;
        if (size < OH_HEADER_SIZE || size > OPENHOOK_MSG_MAX) {
                req->reason = size < OH_HEADER_SIZE ? "message_size below 8" : "message_size above OPENHOOK_MSG_MAX";
                return -EPROTO;
        }
        if (len < size)
                return 0;

        /* From here on the cursor covers exactly this message, so the
         * command is read through it like every other field. */
        c.left = size - sizeof(size);
        if (!take(&c, &req->command, sizeof(req->command)))
                return 0;       /* unreachable: size >= OH_HEADER_SIZE */
        req->size = size;

        const struct layout *l = layout_of(req->command);
        if (!l) {
                req->status = -ENOSYS;
                req->reason = "unknown command";
                return (int) size;
        }

        int r = decode_payload(l, &c, req, paths);
        if (r < 0)
                return r;
        return (int) size;
}

/* ---- files sent ahead ----------------------------------------------------- */

#define OH_AHEAD_HEADER OH_AHEAD_HEADER_SIZE /* response, count, directory dev and ino */
#define OH_AHEAD_ENTRY 18u      /* dev, ino, name length; then the name */

static void put_u32_at(uint8_t *buf, size_t off, uint32_t v)
{
        memcpy(buf + off, &v, sizeof(v));
}

size_t oh_wire_ahead_begin(uint8_t *out, uint32_t command, uint64_t dir_dev, uint64_t dir_ino)
{
        oh_wire_encode_response(command, 0, out);
        put_u32_at(out, 0, OH_AHEAD_HEADER);
        put_u32_at(out, 12, 0);
        memcpy(out + 16, &dir_dev, 8);
        memcpy(out + 24, &dir_ino, 8);
        return OH_AHEAD_HEADER;
}

void oh_wire_ahead_trim(uint8_t *out, uint32_t count, size_t len)
{
        put_u32_at(out, 12, count);
        put_u32_at(out, 0, (uint32_t) len);
}

int oh_wire_ahead_add(uint8_t *out, size_t *len, uint64_t dev, uint64_t ino, const char *name)
{
        size_t n = strlen(name);
        uint32_t count;
        uint16_t nl = (uint16_t) n;

        memcpy(&count, out + 12, sizeof(count));
        if (count >= OPENHOOK_AHEAD_MAX || n > NAME_MAX || *len + OH_AHEAD_ENTRY + n > OPENHOOK_AHEAD_REPLY_MAX)
                return -ENOBUFS;
        memcpy(out + *len, &dev, 8);
        memcpy(out + *len + 8, &ino, 8);
        memcpy(out + *len + 16, &nl, 2);
        memcpy(out + *len + OH_AHEAD_ENTRY, name, n);
        *len += OH_AHEAD_ENTRY + n;
        put_u32_at(out, 12, count + 1);
        put_u32_at(out, 0, (uint32_t) *len);
        return 0;
}

/* A name the client may look up in its directory: one component. */
static bool plain_name(const uint8_t *p, size_t n)
{
        if (n == 0 || n > NAME_MAX || memchr(p, '/', n) || memchr(p, '\0', n))
                return false;
        return !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.');
}

static int decode_ahead_entries(struct cursor *c, struct oh_ahead *a)
{
        size_t names = 0;

        for (uint32_t i = 0; i < a->count; i++) {
                struct oh_ahead_file *f = &a->files[i];
                uint16_t n;

                if (!take(c, &f->dev, 8) || !take(c, &f->ino, 8) || !take(c, &n, 2) ||
                    c->left < n || !plain_name(c->p, n))
                        return -EPROTO;
                f->name_off = (uint16_t) names;
                memcpy(a->names + names, c->p, n);
                a->names[names + n] = '\0';
                names += n + 1u;
                c->p += n;
                c->left -= n;
        }
        return c->left == 0 ? 0 : -EPROTO;
}

int oh_wire_decode_ahead(const uint8_t *buf, size_t len, uint32_t command, int32_t *result, struct oh_ahead *a)
{
        struct cursor c = { buf, len };
        uint32_t size;

        a->count = 0;
        if (len == OH_RESPONSE_SIZE)
                return oh_wire_decode_response(buf, len, command, result);
        if (len < OH_AHEAD_HEADER || len > OPENHOOK_AHEAD_REPLY_MAX)
                return -EPROTO;
        memcpy(&size, buf, 4);
        /* The first 12 bytes are an ordinary response but for their size;
         * files come only with a success. */
        uint8_t head[OH_RESPONSE_SIZE];
        memcpy(head, buf, OH_RESPONSE_SIZE);
        put_u32_at(head, 0, OH_RESPONSE_SIZE);
        if (size != len || oh_wire_decode_response(head, sizeof(head), command, result) < 0 ||
            *result != 0)
                return -EPROTO;
        c.p += OH_RESPONSE_SIZE;
        c.left -= OH_RESPONSE_SIZE;
        if (!take(&c, &a->count, 4) || !take(&c, &a->dir_dev, 8) || !take(&c, &a->dir_ino, 8) ||
            a->count > OPENHOOK_AHEAD_MAX)
                return -EPROTO;
        return decode_ahead_entries(&c, a);
}

/* ---- a minimal POSIX ACL --------------------------------------------------- */

/* The kernel's posix_acl_xattr layout: a u32 version, then per entry u16
 * tag, u16 perm, u32 id.  A minimal ACL has the three base entries, in the
 * kernel's order. */
#define ACL_XATTR_VERSION 2u
#define ACL_ENTRY_SIZE 8u

int oh_wire_acl_mode(const void *value, size_t size, uint32_t *mode)
{
        static const uint16_t tags[3] = { 0x01 /* USER_OBJ */, 0x04 /* GROUP_OBJ */, 0x20 /* OTHER */ };
        struct cursor c = { value, size };
        uint32_t version, id, bits = 0;

        if (size != sizeof(version) + ELEMENTSOF(tags) * ACL_ENTRY_SIZE || !take(&c, &version, sizeof(version)) ||
            version != ACL_XATTR_VERSION)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
                uint16_t tag, perm;

                if (!take(&c, &tag, sizeof(tag)) || !take(&c, &perm, sizeof(perm)) || !take(&c, &id, sizeof(id)) ||
                    tag != tags[i] || perm > 7)
                        return -EINVAL;
                bits = bits << 3 | perm;
        }
        *mode = bits;
        return 0;
}

/* ---- encoding ------------------------------------------------------------ */

struct writer {
        uint8_t *p;
        size_t left;
        int error;
};

static void put(struct writer *w, const void *data, size_t n)
{
        if (w->error)
                return;
        if (w->left < n) {
                w->error = -ENOBUFS;
                return;
        }
        memcpy(w->p, data, n);
        w->p += n;
        w->left -= n;
}

static void put_path(struct writer *w, const char *path)
{
        if (!path) {
                w->error = w->error ?: -EINVAL;
                return;
        }
        size_t n = strlen(path);
        if (n >= OPENHOOK_PATH_MAX) {
                w->error = w->error ?: -ENAMETOOLONG;
                return;
        }
        uint16_t len = (uint16_t) n;
        put(w, &len, sizeof(len));
        put(w, path, n);
}

int oh_wire_encode_request(const struct oh_request *req, uint8_t *buf, size_t size)
{
        const struct layout *l = layout_of(req->command);
        struct writer w = { buf, size, 0 };
        uint32_t placeholder = 0;

        if (!l)
                return -EINVAL;

        put(&w, &placeholder, sizeof(placeholder));
        put(&w, &req->command, sizeof(req->command));
        for (size_t i = 0; i < ELEMENTSOF(l->fields) && l->fields[i] != F_END; i++) {
                switch (l->fields[i]) {
                case F_FLAGS:
                        put(&w, &req->flags, sizeof(req->flags));
                        break;
                case F_MODE:
                        put(&w, &req->mode, sizeof(req->mode));
                        break;
                case F_LENGTH:
                        put(&w, &req->length, sizeof(req->length));
                        break;
                case F_TIMES:
                        put(&w, req->times, sizeof(req->times));
                        break;
                case F_UID:
                        put(&w, &req->uid, sizeof(req->uid));
                        break;
                case F_GID:
                        put(&w, &req->gid, sizeof(req->gid));
                        break;
                case F_AHEAD_FLAGS:
                        put(&w, &req->ahead_flags, sizeof(req->ahead_flags));
                        break;
                case F_DIR_FLAGS:
                        put(&w, &req->dir_flags, sizeof(req->dir_flags));
                        break;
                case F_PATH:
                case F_TARGET:
                        put_path(&w, req->path);
                        break;
                case F_PATH2:
                        put_path(&w, req->path2);
                        break;
                }
        }
        if (w.error)
                return w.error;

        uint32_t total = (uint32_t) (size - w.left);
        memcpy(buf, &total, sizeof(total));
        return (int) total;
}

void oh_wire_encode_response(uint32_t command, int32_t result, uint8_t out[OH_RESPONSE_SIZE])
{
        uint32_t size = OH_RESPONSE_SIZE;

        memcpy(out, &size, 4);
        memcpy(out + 4, &command, 4);
        memcpy(out + 8, &result, 4);
}

/* The kernel never uses errno values above this (see MAX_ERRNO). */
#define OH_ERRNO_MAX 4095

int oh_wire_decode_response(const uint8_t *buf, size_t len, uint32_t command, int32_t *result)
{
        uint32_t size, cmd;
        int32_t r;

        if (len != OH_RESPONSE_SIZE)
                return -EPROTO;
        memcpy(&size, buf, 4);
        memcpy(&cmd, buf + 4, 4);
        memcpy(&r, buf + 8, 4);
        if (size != OH_RESPONSE_SIZE || cmd != command || r > 0 || r < -OH_ERRNO_MAX)
                return -EPROTO;
        *result = r;
        return 0;
}

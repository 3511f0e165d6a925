/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire codec: what a broker makes of the bytes a client sends.  Raw
 * messages are built by hand here (not by the encoder) so the decoder is
 * checked against the documented layout, not against itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "wire.h"

/* ---- building raw messages -------------------------------------------- */

struct msg {
        uint8_t b[OPENHOOK_MSG_MAX + 64];
        size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
        memcpy(m->b + m->len, p, n);
        m->len += n;
}

static void put32(struct msg *m, uint32_t v) { put(m, &v, 4); }
static void put16(struct msg *m, uint16_t v) { put(m, &v, 2); }
static void put64(struct msg *m, uint64_t v) { put(m, &v, 8); }

/* A path field: u16 length, then N bytes of S (S may contain NULs). */
static void putpath(struct msg *m, const char *s, size_t n)
{
        put16(m, (uint16_t) n);
        put(m, s, n);
}

static void putstr(struct msg *m, const char *s)
{
        putpath(m, s, strlen(s));
}

static void begin(struct msg *m, uint32_t command)
{
        m->len = 0;
        put32(m, 0);
        put32(m, command);
}

/* Writes the real length into message_size. */
static void seal(struct msg *m)
{
        uint32_t size = (uint32_t) m->len;
        memcpy(m->b, &size, 4);
}

/* Decodes from a heap copy of exactly LEN bytes so that ASan catches any
 * read past the end. */
static int decode_exact(const uint8_t *buf, size_t len, struct oh_request *req, struct oh_pathbuf *paths)
{
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        int r = oh_wire_decode(copy, len, req, paths);
        free(copy);
        return r;
}

static int decode(const struct msg *m, struct oh_request *req, struct oh_pathbuf *paths)
{
        return decode_exact(m->b, m->len, req, paths);
}

static struct oh_pathbuf paths;

static struct msg *open_msg(const char *path, size_t n)
{
        static struct msg m;
        begin(&m, OPENHOOK_CMD_OPEN);
        put32(&m, O_RDWR | O_CREAT);
        put32(&m, 0640);
        putpath(&m, path, n);
        seal(&m);
        return &m;
}

/* ---- the seed's QEMU_OPEN ------------------------------------------------ */

static void seed_open_decodes_every_field(void)
{
        struct oh_request req;
        struct msg *m = open_msg("/tmp/file", 9);

        CHECK_EQ(decode(m, &req, &paths), 8 + 4 + 4 + 2 + 9);
        CHECK_EQ(req.size, 27);
        CHECK_EQ(req.command, OPENHOOK_CMD_OPEN);
        CHECK_EQ(req.flags, O_RDWR | O_CREAT);
        CHECK_EQ(req.mode, 0640);
        CHECK_EQ(req.status, 0);
        CHECK_STREQ(req.path, "/tmp/file");
        CHECK(req.path2 == NULL);
}

static void encoder_produces_the_seed_layout_byte_for_byte(void)
{
        struct oh_request req = { .command = OPENHOOK_CMD_OPEN, .flags = O_RDONLY, .mode = 0, .path = "/etc/hosts" };
        uint8_t buf[OH_REQUEST_MAX];
        struct msg *want = open_msg("/etc/hosts", 10);

        /* open_msg uses other flags/mode; rebuild the expectation. */
        begin(want, OPENHOOK_CMD_OPEN);
        put32(want, O_RDONLY);
        put32(want, 0);
        putstr(want, "/etc/hosts");
        seal(want);

        int n = oh_wire_encode_request(&req, buf, sizeof(buf));
        CHECK_EQ(n, 28);
        CHECK_EQ(n, want->len);
        CHECK(memcmp(buf, want->b, want->len) == 0);
}

static void filename_with_one_trailing_nul_is_accepted(void)
{
        struct oh_request req;

        CHECK_EQ(decode(open_msg("/tmp/file", 10), &req, &paths), 28);
        CHECK_EQ(req.status, 0);
        CHECK_STREQ(req.path, "/tmp/file");
}

static void filename_with_two_trailing_nuls_is_einval(void)
{
        struct oh_request req;

        CHECK_EQ(decode(open_msg("/tmp/file\0", 11), &req, &paths), 29);
        CHECK_EQ(req.status, -EINVAL);
        CHECK(req.path == NULL);
}

static void filename_with_embedded_nul_is_einval(void)
{
        struct oh_request req;

        CHECK_EQ(decode(open_msg("/tmp/a\0/b", 9), &req, &paths), 27);
        CHECK_EQ(req.status, -EINVAL);
        CHECK(req.path == NULL);
}

static void empty_filename_is_enoent(void)
{
        struct oh_request req;

        CHECK_EQ(decode(open_msg("", 0), &req, &paths), 18);
        CHECK_EQ(req.status, -ENOENT);
        CHECK_EQ(decode(open_msg("", 1), &req, &paths), 19);
        CHECK_EQ(req.status, -ENOENT);
}

static void relative_filename_is_einval(void)
{
        struct oh_request req;

        CHECK_EQ(decode(open_msg("tmp/file", 8), &req, &paths), 26);
        CHECK_EQ(req.status, -EINVAL);
        CHECK_EQ(decode(open_msg("./x", 3), &req, &paths), 21);
        CHECK_EQ(req.status, -EINVAL);
}

static void filename_length_limit_is_path_max_minus_one(void)
{
        static char name[OPENHOOK_PATH_MAX + 2];
        struct oh_request req;

        memset(name, 'a', sizeof(name));
        name[0] = '/';

        CHECK_EQ(decode(open_msg(name, OPENHOOK_PATH_MAX - 1), &req, &paths), 18 + OPENHOOK_PATH_MAX - 1);
        CHECK_EQ(req.status, 0);
        CHECK_EQ(strlen(req.path), OPENHOOK_PATH_MAX - 1);

        CHECK_EQ(decode(open_msg(name, OPENHOOK_PATH_MAX), &req, &paths), 18 + OPENHOOK_PATH_MAX);
        CHECK_EQ(req.status, -ENAMETOOLONG);

        /* A trailing NUL does not count against the limit. */
        name[OPENHOOK_PATH_MAX - 1] = '\0';
        CHECK_EQ(decode(open_msg(name, OPENHOOK_PATH_MAX), &req, &paths), 18 + OPENHOOK_PATH_MAX);
        CHECK_EQ(req.status, 0);
        CHECK_EQ(strlen(req.path), OPENHOOK_PATH_MAX - 1);
}

static void huge_filename_within_msg_max_is_enametoolong_not_a_crash(void)
{
        static char name[OPENHOOK_MSG_MAX];
        size_t n = OPENHOOK_MSG_MAX - 18;
        struct oh_request req;

        memset(name, 'x', sizeof(name));
        name[0] = '/';
        CHECK_EQ(decode(open_msg(name, n), &req, &paths), OPENHOOK_MSG_MAX);
        CHECK_EQ(req.status, -ENAMETOOLONG);
}

static void bytes_left_over_after_the_fields_are_einval(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_OPEN);
        put32(&m, 0);
        put32(&m, 0);
        putstr(&m, "/tmp/file");
        put(&m, "junk", 4);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -EINVAL);

        begin(&m, OPENHOOK_CMD_CONNECT);
        put32(&m, 7);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 12);
        CHECK_EQ(req.status, -EINVAL);
}

static void unknown_command_is_enosys_and_consumed_whole(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, 4242);
        put(&m, "whatever payload", 16);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 24);
        CHECK_EQ(req.command, 4242);
        CHECK_EQ(req.status, -ENOSYS);

        begin(&m, 0);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8);
        CHECK_EQ(req.status, -ENOSYS);
}

/* ---- framing that closes the connection ----------------------------------- */

static void message_size_below_header_is_eproto(void)
{
        struct oh_request req;
        struct msg m;

        for (uint32_t size = 0; size < 8; size++) {
                m.len = 0;
                put32(&m, size);
                /* Judged as soon as the size has arrived. */
                CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
                CHECK(req.reason != NULL);
                put32(&m, OPENHOOK_CMD_OPEN);
                CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
        }
}

static void message_size_above_msg_max_is_eproto(void)
{
        struct oh_request req;
        struct msg m;

        m.len = 0;
        put32(&m, OPENHOOK_MSG_MAX + 1);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
        m.len = 0;
        put32(&m, UINT32_MAX);
        put32(&m, OPENHOOK_CMD_OPEN);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
}

static void message_of_exactly_msg_max_is_accepted(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, 99);
        memset(m.b + m.len, 0xab, OPENHOOK_MSG_MAX - 8);
        m.len = OPENHOOK_MSG_MAX;
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), OPENHOOK_MSG_MAX);
        CHECK_EQ(req.status, -ENOSYS);
}

static void payload_shorter_than_fixed_fields_is_eproto(void)
{
        struct oh_request req;
        struct msg m;
        /* For each command: a payload one byte short of its fixed fields
         * (paths counted as their u16 length alone). */
        static const struct { uint32_t command; size_t fixed; } cases[] = {
                { OPENHOOK_CMD_OPEN, 10 },
                { OPENHOOK_CMD_MKDIR, 6 },
                { OPENHOOK_CMD_UNLINK, 2 },
                { OPENHOOK_CMD_RMDIR, 2 },
                { OPENHOOK_CMD_RENAME, 8 },
                { OPENHOOK_CMD_SYMLINK, 4 },
                { OPENHOOK_CMD_LINK, 4 },
                { OPENHOOK_CMD_TRUNCATE, 10 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (size_t short_by = 1; short_by <= cases[i].fixed; short_by++) {
                        begin(&m, cases[i].command);
                        memset(m.b + m.len, 0, cases[i].fixed - short_by);
                        m.len += cases[i].fixed - short_by;
                        seal(&m);
                        int r = decode(&m, &req, &paths);
                        CHECK_EQ(r, -EPROTO);
                        if (r != -EPROTO)
                                printf("#   command %u short by %zu\n", cases[i].command, short_by);
                }
}

static void path_length_beyond_payload_is_eproto(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_UNLINK);
        put16(&m, 10);
        put(&m, "/tmp/x", 6);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);

        /* Even when the stream holds more bytes after the message. */
        put(&m, "/more-bytes-of-the-next-message", 31);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);

        begin(&m, OPENHOOK_CMD_RENAME);
        put32(&m, 0);
        putstr(&m, "/a");
        put16(&m, 3);
        put(&m, "/b", 2);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
}

/* ---- the extensions -------------------------------------------------------- */

static void every_command_round_trips_through_encoder_and_decoder(void)
{
        const struct oh_request cases[] = {
                { .command = OPENHOOK_CMD_OPEN, .flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0600, .path = "/a/b" },
                { .command = OPENHOOK_CMD_MKDIR, .mode = 0755, .path = "/a/dir" },
                { .command = OPENHOOK_CMD_UNLINK, .path = "/a/f" },
                { .command = OPENHOOK_CMD_RMDIR, .path = "/a/d" },
                { .command = OPENHOOK_CMD_RENAME, .flags = 1, .path = "/a/old", .path2 = "/b/new" },
                { .command = OPENHOOK_CMD_SYMLINK, .path = "../relative/target", .path2 = "/a/link" },
                { .command = OPENHOOK_CMD_LINK, .path = "/a/x", .path2 = "/a/y" },
                { .command = OPENHOOK_CMD_TRUNCATE, .length = UINT64_C(0x123456789a), .path = "/a/t" },
                { .command = OPENHOOK_CMD_CONNECT },
                { .command = OPENHOOK_CMD_CHMOD, .mode = 04755, .flags = AT_SYMLINK_NOFOLLOW, .path = "/a/m" },
                { .command = OPENHOOK_CMD_UTIMENS, .flags = AT_SYMLINK_NOFOLLOW,
                  .times = { UINT64_MAX, 999999999, UINT64_C(1) << 33, (1 << 30) - 2 }, .path = "/a/u" },
                { .command = OPENHOOK_CMD_ACCESS, .mode = R_OK | X_OK, .flags = AT_EACCESS, .path = "/a/x" },
                { .command = OPENHOOK_CMD_CHOWN, .uid = 1000, .gid = UINT32_MAX, .flags = AT_SYMLINK_NOFOLLOW,
                  .path = "/a/o" },
                { .command = OPENHOOK_CMD_OPEN_AHEAD, .flags = O_RDONLY | O_NOFOLLOW, .mode = 64, .path = "/a/f" },
                { .command = OPENHOOK_CMD_OPEN_DIR_AHEAD, .flags = O_RDONLY | O_DIRECTORY, .mode = 7,
                  .ahead_flags = O_RDONLY | O_NONBLOCK, .path = "/a/d" },
                { .command = OPENHOOK_CMD_OPEN_WALK_AHEAD, .flags = O_RDONLY, .mode = 63, .ahead_flags = O_RDONLY,
                  .dir_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .path = "/a/w" },
        };
        uint8_t buf[OH_REQUEST_MAX];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const struct oh_request *in = &cases[i];
                struct oh_request out;
                int n = oh_wire_encode_request(in, buf, sizeof(buf));
                CHECK(n >= 8);
                CHECK_EQ(decode_exact(buf, (size_t) n, &out, &paths), n);
                CHECK_EQ(out.command, in->command);
                CHECK_EQ(out.status, 0);
                CHECK_EQ(out.flags, in->flags);
                CHECK_EQ(out.mode, in->mode);
                CHECK_EQ(out.length, in->length);
                CHECK_EQ(out.uid, in->uid);
                CHECK_EQ(out.gid, in->gid);
                CHECK_EQ(out.ahead_flags, in->ahead_flags);
                CHECK_EQ(out.dir_flags, in->dir_flags);
                CHECK(memcmp(out.times, in->times, sizeof(out.times)) == 0);
                CHECK((in->path == NULL) == (out.path == NULL));
                CHECK((in->path2 == NULL) == (out.path2 == NULL));
                if (in->path)
                        CHECK_STREQ(out.path, in->path);
                if (in->path2)
                        CHECK_STREQ(out.path2, in->path2);
        }
}

static void rename_layout_has_flags_then_two_paths(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_RENAME);
        put32(&m, 1);
        putstr(&m, "/old");
        putstr(&m, "/new");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 4 + 6 + 6);
        CHECK_EQ(req.flags, 1);
        CHECK_STREQ(req.path, "/old");
        CHECK_STREQ(req.path2, "/new");
}

static void truncate_layout_has_u64_length_first(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_TRUNCATE);
        put64(&m, UINT64_C(1) << 40);
        putstr(&m, "/f");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 8 + 4);
        CHECK_EQ(req.length, UINT64_C(1) << 40);
        CHECK_STREQ(req.path, "/f");
}

static void chmod_layout_has_mode_then_flags_then_path(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_CHMOD);
        put32(&m, 0640);
        put32(&m, AT_SYMLINK_NOFOLLOW);
        putstr(&m, "/f");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 4 + 4 + 4);
        CHECK_EQ(req.status, 0);
        CHECK_EQ(req.mode, 0640);
        CHECK_EQ(req.flags, AT_SYMLINK_NOFOLLOW);
        CHECK_STREQ(req.path, "/f");
}

static void utimens_layout_has_flags_then_four_u64_then_path(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_UTIMENS);
        put32(&m, 0);
        put64(&m, 1000000000);
        put64(&m, 5);
        put64(&m, 2000000000);
        put64(&m, (1 << 30) - 1);       /* UTIME_NOW passes through */
        putstr(&m, "/t");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 4 + 32 + 4);
        CHECK_EQ(req.status, 0);
        CHECK_EQ(req.flags, 0);
        CHECK_EQ(req.times[0], 1000000000);
        CHECK_EQ(req.times[1], 5);
        CHECK_EQ(req.times[2], 2000000000);
        CHECK_EQ(req.times[3], (1 << 30) - 1);
        CHECK_STREQ(req.path, "/t");
}

static void access_and_chown_layouts(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_ACCESS);
        put32(&m, W_OK);
        put32(&m, AT_EACCESS);
        putstr(&m, "/a");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 8 + 4);
        CHECK_EQ(req.mode, W_OK);
        CHECK_EQ(req.flags, AT_EACCESS);
        CHECK_STREQ(req.path, "/a");

        begin(&m, OPENHOOK_CMD_CHOWN);
        put32(&m, 7);
        put32(&m, 9);
        put32(&m, AT_SYMLINK_NOFOLLOW);
        putstr(&m, "/o");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 12 + 4);
        CHECK_EQ(req.uid, 7);
        CHECK_EQ(req.gid, 9);
        CHECK_EQ(req.flags, AT_SYMLINK_NOFOLLOW);
        CHECK_STREQ(req.path, "/o");

        begin(&m, OPENHOOK_CMD_CHOWN);         /* cut inside its ids */
        put32(&m, 7);
        put32(&m, 9);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
}

/* PROTOCOL.md: flags, max, file_flags, dir_flags, then the path. */
static void walk_ahead_layout_has_four_u32_then_path(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_OPEN_WALK_AHEAD);
        put32(&m, O_RDONLY | O_NOFOLLOW);
        put32(&m, 64);
        put32(&m, O_RDONLY | O_NONBLOCK);
        put32(&m, O_RDONLY | O_DIRECTORY);
        putstr(&m, "/w");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), 8 + 16 + 4);
        CHECK_EQ(req.flags, O_RDONLY | O_NOFOLLOW);
        CHECK_EQ(req.mode, 64);
        CHECK_EQ(req.ahead_flags, O_RDONLY | O_NONBLOCK);
        CHECK_EQ(req.dir_flags, O_RDONLY | O_DIRECTORY);
        CHECK_STREQ(req.path, "/w");

        begin(&m, OPENHOOK_CMD_OPEN_WALK_AHEAD);     /* cut inside its flags */
        put32(&m, 0);
        put32(&m, 64);
        put32(&m, 0);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
}

static void only_a_minimal_acl_restates_a_mode(void)
{
        /* version 2; USER_OBJ rwx, GROUP_OBJ r-x, OTHER --- (cp -a's 0750) */
        const uint8_t minimal[] = { 2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
                                    0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
        uint8_t v[sizeof(minimal) + 8];
        uint32_t mode = 0;

        CHECK_EQ(oh_wire_acl_mode(minimal, sizeof(minimal), &mode), 0);
        CHECK_EQ(mode, 0750);
        for (size_t n = 0; n < sizeof(minimal); n++)
                CHECK_EQ(oh_wire_acl_mode(minimal, n, &mode), -EINVAL);
        memcpy(v, minimal, sizeof(minimal));
        v[0] = 1;                                       /* another version */
        CHECK_EQ(oh_wire_acl_mode(v, sizeof(minimal), &mode), -EINVAL);
        memcpy(v, minimal, sizeof(minimal));
        v[12] = 2;                                      /* a named user, not the group */
        CHECK_EQ(oh_wire_acl_mode(v, sizeof(minimal), &mode), -EINVAL);
        memcpy(v, minimal, sizeof(minimal));
        v[6] = 8;                                       /* not a permission */
        CHECK_EQ(oh_wire_acl_mode(v, sizeof(minimal), &mode), -EINVAL);
        memcpy(v, minimal, sizeof(minimal));            /* a fourth entry (a mask) */
        memcpy(v + sizeof(minimal), (uint8_t[]) { 0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff }, 8);
        CHECK_EQ(oh_wire_acl_mode(v, sizeof(v), &mode), -EINVAL);
}

static void utimens_cut_inside_its_times_is_eproto(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_UTIMENS);
        put32(&m, 0);
        put64(&m, 1);
        put64(&m, 2);
        put32(&m, 3);
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), -EPROTO);
}

static void symlink_target_may_be_relative_but_linkpath_may_not(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_SYMLINK);
        putstr(&m, "target");
        putstr(&m, "/dir/link");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, 0);
        CHECK_STREQ(req.path, "target");
        CHECK_STREQ(req.path2, "/dir/link");

        begin(&m, OPENHOOK_CMD_SYMLINK);
        putstr(&m, "/abs/target");
        putstr(&m, "dir/link");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -EINVAL);

        begin(&m, OPENHOOK_CMD_SYMLINK);
        putstr(&m, "");
        putstr(&m, "/dir/link");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -ENOENT);

        begin(&m, OPENHOOK_CMD_SYMLINK);
        putpath(&m, "a\0b", 3);
        putstr(&m, "/dir/link");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -EINVAL);
}

static void second_path_is_checked_too(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_LINK);
        putstr(&m, "/ok");
        putstr(&m, "relative");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -EINVAL);

        begin(&m, OPENHOOK_CMD_RENAME);
        put32(&m, 0);
        putstr(&m, "/ok");
        putstr(&m, "");
        seal(&m);
        CHECK_EQ(decode(&m, &req, &paths), (int) m.len);
        CHECK_EQ(req.status, -ENOENT);
}

/* ---- streams ----------------------------------------------------------------- */

static void partial_message_needs_more_bytes_at_every_length(void)
{
        struct oh_request req;
        struct msg m;

        begin(&m, OPENHOOK_CMD_RENAME);
        put32(&m, 0);
        putstr(&m, "/some/old/name");
        putstr(&m, "/some/new/name");
        seal(&m);

        for (size_t len = 0; len < m.len; len++) {
                int r = decode_exact(m.b, len, &req, &paths);
                CHECK_EQ(r, 0);
                if (r != 0)
                        printf("#   prefix of %zu bytes\n", len);
        }
        CHECK_EQ(decode_exact(m.b, m.len, &req, &paths), (int) m.len);
        CHECK_STREQ(req.path2, "/some/new/name");
}

static void pipelined_messages_decode_one_after_another(void)
{
        struct oh_request req;
        struct msg stream = { .len = 0 }, one;
        const char *names[] = { "/first", "/second/file", "/third" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                begin(&one, OPENHOOK_CMD_UNLINK);
                putstr(&one, names[i]);
                seal(&one);
                put(&stream, one.b, one.len);
        }
        /* And half of a fourth. */
        put(&stream, one.b, 5);

        size_t off = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                int r = decode_exact(stream.b + off, stream.len - off, &req, &paths);
                CHECK(r > 0);
                if (r <= 0)
                        return;
                CHECK_STREQ(req.path, names[i]);
                off += (size_t) r;
        }
        CHECK_EQ(decode_exact(stream.b + off, stream.len - off, &req, &paths), 0);
}

/* ---- encoder refusals ------------------------------------------------------- */

static void encoder_refuses_what_it_cannot_send(void)
{
        static char longname[OPENHOOK_PATH_MAX + 1];
        uint8_t buf[OH_REQUEST_MAX];
        struct oh_request req = { .command = OPENHOOK_CMD_UNLINK, .path = longname };

        memset(longname, 'a', OPENHOOK_PATH_MAX);
        longname[0] = '/';
        CHECK_EQ(oh_wire_encode_request(&req, buf, sizeof(buf)), -ENAMETOOLONG);
        longname[OPENHOOK_PATH_MAX - 1] = '\0';
        CHECK_EQ(oh_wire_encode_request(&req, buf, sizeof(buf)), 8 + 2 + OPENHOOK_PATH_MAX - 1);

        req.path = NULL;
        CHECK_EQ(oh_wire_encode_request(&req, buf, sizeof(buf)), -EINVAL);

        req = (struct oh_request) { .command = 77, .path = "/x" };
        CHECK_EQ(oh_wire_encode_request(&req, buf, sizeof(buf)), -EINVAL);

        req = (struct oh_request) { .command = OPENHOOK_CMD_UNLINK, .path = "/a/long/name" };
        CHECK_EQ(oh_wire_encode_request(&req, buf, 12), -ENOBUFS);
}

static void largest_request_fits_request_max(void)
{
        static char a[OPENHOOK_PATH_MAX], b[OPENHOOK_PATH_MAX];
        uint8_t buf[OH_REQUEST_MAX];
        struct oh_request req = { .command = OPENHOOK_CMD_RENAME, .path = a, .path2 = b };

        memset(a, 'a', sizeof(a) - 1);
        memset(b, 'b', sizeof(b) - 1);
        a[0] = b[0] = '/';
        int n = oh_wire_encode_request(&req, buf, sizeof(buf));
        CHECK(n > 0);
        CHECK(n <= (int) OH_REQUEST_MAX);
        CHECK(n <= (int) OPENHOOK_MSG_MAX);
        struct oh_request out;
        CHECK_EQ(decode_exact(buf, (size_t) n, &out, &paths), n);
        CHECK_EQ(out.status, 0);
}

/* ---- responses ---------------------------------------------------------------- */

static void response_round_trips(void)
{
        uint8_t out[OH_RESPONSE_SIZE];
        int32_t result = 1;

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, -EACCES, out);
        uint32_t size, cmd;
        int32_t res;
        memcpy(&size, out, 4);
        memcpy(&cmd, out + 4, 4);
        memcpy(&res, out + 8, 4);
        CHECK_EQ(size, 12);
        CHECK_EQ(cmd, 1);
        CHECK_EQ(res, -EACCES);
        CHECK_EQ(oh_wire_decode_response(out, sizeof(out), OPENHOOK_CMD_OPEN, &result), 0);
        CHECK_EQ(result, -EACCES);

        oh_wire_encode_response(OPENHOOK_CMD_CONNECT, 0, out);
        CHECK_EQ(oh_wire_decode_response(out, sizeof(out), OPENHOOK_CMD_CONNECT, &result), 0);
        CHECK_EQ(result, 0);
}

static void response_to_another_command_is_eproto(void)
{
        uint8_t out[OH_RESPONSE_SIZE];
        int32_t result;

        oh_wire_encode_response(OPENHOOK_CMD_MKDIR, 0, out);
        CHECK_EQ(oh_wire_decode_response(out, sizeof(out), OPENHOOK_CMD_OPEN, &result), -EPROTO);
}

static void malformed_response_is_eproto(void)
{
        uint8_t out[OH_RESPONSE_SIZE + 4] = {};
        int32_t result;
        uint32_t v;

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, 0, out);
        CHECK_EQ(oh_wire_decode_response(out, 8, OPENHOOK_CMD_OPEN, &result), -EPROTO);
        CHECK_EQ(oh_wire_decode_response(out, 16, OPENHOOK_CMD_OPEN, &result), -EPROTO);

        v = 16;
        memcpy(out, &v, 4);
        CHECK_EQ(oh_wire_decode_response(out, 12, OPENHOOK_CMD_OPEN, &result), -EPROTO);

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, 5, out);
        CHECK_EQ(oh_wire_decode_response(out, 12, OPENHOOK_CMD_OPEN, &result), -EPROTO);

        oh_wire_encode_response(OPENHOOK_CMD_OPEN, INT32_MIN, out);
        CHECK_EQ(oh_wire_decode_response(out, 12, OPENHOOK_CMD_OPEN, &result), -EPROTO);
}

int main(void)
{
        RUN(seed_open_decodes_every_field);
        RUN(encoder_produces_the_seed_layout_byte_for_byte);
        RUN(filename_with_one_trailing_nul_is_accepted);
        RUN(filename_with_two_trailing_nuls_is_einval);
        RUN(filename_with_embedded_nul_is_einval);
        RUN(empty_filename_is_enoent);
        RUN(relative_filename_is_einval);
        RUN(filename_length_limit_is_path_max_minus_one);
        RUN(huge_filename_within_msg_max_is_enametoolong_not_a_crash);
        RUN(bytes_left_over_after_the_fields_are_einval);
        RUN(unknown_command_is_enosys_and_consumed_whole);
        RUN(message_size_below_header_is_eproto);
        RUN(message_size_above_msg_max_is_eproto);
        RUN(message_of_exactly_msg_max_is_accepted);
        RUN(payload_shorter_than_fixed_fields_is_eproto);
        RUN(path_length_beyond_payload_is_eproto);
        RUN(every_command_round_trips_through_encoder_and_decoder);
        RUN(rename_layout_has_flags_then_two_paths);
        RUN(truncate_layout_has_u64_length_first);
        RUN(chmod_layout_has_mode_then_flags_then_path);
        RUN(utimens_layout_has_flags_then_four_u64_then_path);
        RUN(utimens_cut_inside_its_times_is_eproto);
        RUN(access_and_chown_layouts);
        RUN(walk_ahead_layout_has_four_u32_then_path);
        RUN(only_a_minimal_acl_restates_a_mode);
        RUN(symlink_target_may_be_relative_but_linkpath_may_not);
        RUN(second_path_is_checked_too);
        RUN(partial_message_needs_more_bytes_at_every_length);
        RUN(pipelined_messages_decode_one_after_another);
        RUN(encoder_refuses_what_it_cannot_send);
        RUN(largest_request_fits_request_max);
        RUN(response_round_trips);
        RUN(response_to_another_command_is_eproto);
        RUN(malformed_response_is_eproto);
        return TAP_DONE();
}

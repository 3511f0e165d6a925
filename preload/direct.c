/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "direct" set: prefixes `openhook run` lets the program read itself
 * (OPENHOOK_DIRECT, colon-separated absolute paths).  Parsed once into
 * static storage so the hot path neither allocates nor reads the
 * environment. */
#include <string.h>

#include "shim.h"

#define DIRECT_MAX 64

static char direct_buf[8192];
static struct {
        const char *p;
        size_t len;
} direct[DIRECT_MAX];
static size_t n_direct;

void shim_direct_init(const char *list)
{
        char *s, *save = NULL;

        n_direct = 0;
        if (!list || strlen(list) >= sizeof(direct_buf))
                return;
        strcpy(direct_buf, list);
        for (s = strtok_r(direct_buf, ":", &save); s && n_direct < DIRECT_MAX; s = strtok_r(NULL, ":", &save)) {
                size_t len = strlen(s);

                if (s[0] != '/')
                        continue;       /* only absolute prefixes mean anything */
                while (len > 1 && s[len - 1] == '/')
                        s[--len] = '\0';
                direct[n_direct].p = s;
                direct[n_direct].len = len;
                n_direct++;
        }
}

/* Removes "." and ".." lexically from absolute path P into OUT.  Used only
 * to decide whether a path is in the direct set: the kernel still resolves
 * the original, and Landlock refuses it if a symlink made it land outside. */
static void collapse(const char *p, char out[PATH_MAX])
{
        size_t len = 0;

        while (*p) {
                const char *end;
                size_t n;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                n = (size_t) (end - p);
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        out[len++] = '/';
                        memcpy(out + len, p, n);
                        len += n;
                }
                p = end;
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
}

static bool in_set(const char *p)
{
        for (size_t i = 0; i < n_direct; i++) {
                size_t len = direct[i].len;

                if (strncmp(p, direct[i].p, len) != 0)
                        continue;
                if (p[len] == '\0' || p[len] == '/' || len == 1)
                        return true;
        }
        return false;
}

bool shim_direct_any(void)
{
        return n_direct > 0;
}

bool shim_direct(const char *p)
{
        char clean[PATH_MAX];

        if (n_direct == 0)
                return false;
        if (!strstr(p, "/.."))
                return in_set(p);
        collapse(p, clean);
        return in_set(clean);
}

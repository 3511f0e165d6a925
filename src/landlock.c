/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include "landlock.h"

int oh_landlock_abi(void) { return -EOPNOTSUPP; }
int oh_landlock_apply(const struct oh_ll_rule *rules, size_t n) { return -EOPNOTSUPP; }

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include "confine.h"

int oh_broker_confine(const struct openhook_policy *policy, unsigned int flags) { return -ENOSYS; }

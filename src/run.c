/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include "commands.h"

int cmd_run(int argc, char **argv)
{
        fprintf(stderr, "openhook run: not built yet\n");
        return 125;
}

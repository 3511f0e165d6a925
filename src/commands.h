/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Each subcommand's entry point: argv[0] is "openhook SUBCMD" (e.g.
 * "openhook run"), so getopt's messages name the subcommand.  Returns the
 * process exit status (see openhook(1), EXIT STATUS). */
#ifndef OH_COMMANDS_H
#define OH_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif

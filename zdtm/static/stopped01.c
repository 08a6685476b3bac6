// SPDX-License-Identifier: GPL-2.0
/*
 * stopped01 - a child stopped by SIGSTOP, with a second SIGSTOP sent with
 * kill() pending (see stopped.c).
 */
#define ZDTM_STOPPED_KILL
#include "stopped.c"

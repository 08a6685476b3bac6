// SPDX-License-Identifier: GPL-2.0
/*
 * stopped12 - a child stopped by SIGSTOP, with a SIGSTOP sent with kill()
 * and another sent with tgkill() pending (see stopped.c).
 */
#define ZDTM_STOPPED_KILL
#define ZDTM_STOPPED_TKILL
#include "stopped.c"

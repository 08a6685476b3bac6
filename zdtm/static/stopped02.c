// SPDX-License-Identifier: GPL-2.0
/*
 * stopped02 - a child stopped by SIGTSTP in a job of its own, with a
 * SIGSTOP sent with tgkill() pending (see stopped.c).
 */
#define ZDTM_STOPPED_TKILL
#define ZDTM_STOPPED_TSTP
#include "stopped.c"

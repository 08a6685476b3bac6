// SPDX-License-Identifier: GPL-2.0
/*
 * caps00 - all five capability sets of a task (permitted, effective,
 * inheritable, bounding and ambient) and its securebits come back as they
 * were.
 *
 * Started as root, the test drops a few capabilities from its bounding
 * set, sets SECBIT_KEEP_CAPS, makes its permitted, effective and
 * inheritable sets all different, and raises two ambient capabilities.
 * capget(), PR_CAPBSET_READ, PR_CAP_AMBIENT_IS_SET, PR_GET_SECUREBITS and
 * the Cap* lines of /proc/self/status must read the same after the
 * restore.
 */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

struct caps {
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned long long bset, ambient;
	int securebits;
	char status[5][64];
};

static const char *status_keys[5] = {
	"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"
};

static int last_cap;

static int read_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int ret = -1;

	if (f) {
		if (fscanf(f, "%d", &last_cap) == 1)
			ret = 0;
		fclose(f);
	}
	return ret;
}

static int get_caps(struct caps *c)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	int i, r;

	memset(c, 0, sizeof(*c));
	if (syscall(SYS_capget, &hdr, c->data))
		return -1;
	for (i = 0; i <= last_cap; i++) {
		r = prctl(PR_CAPBSET_READ, i, 0, 0, 0);
		if (r < 0)
			return -1;
		if (r)
			c->bset |= 1ULL << i;
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0);
		if (r < 0)
			return -1;
		if (r)
			c->ambient |= 1ULL << i;
	}
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (c->securebits < 0)
		return -1;
	for (i = 0; i < 5; i++)
		if (task_status_field(0, status_keys[i], c->status[i],
				      sizeof(c->status[i])))
			return -1;
	return 0;
}

static void set_bit64(struct __user_cap_data_struct *d, int cap, int which)
{
	__u32 bit = 1U << (cap % 32);

	if (which == 0)
		d[cap / 32].permitted |= bit;
	else if (which == 1)
		d[cap / 32].effective |= bit;
	else
		d[cap / 32].inheritable |= bit;
}

static int set_caps(void)
{
	static const int drop_bset[] = { CAP_SYS_MODULE, CAP_MKNOD,
					 CAP_SYS_RAWIO, CAP_AUDIT_WRITE };
	static const int inh[] = { CAP_CHOWN, CAP_NET_BIND_SERVICE,
				   CAP_SYS_NICE, CAP_SETUID, CAP_IPC_LOCK };
	static const int amb[] = { CAP_NET_BIND_SERVICE, CAP_SYS_NICE };
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	struct __user_cap_data_struct old[_LINUX_CAPABILITY_U32S_3];
	unsigned int i;
	int cap;

	/* Root may not have every capability (say, in a container). */
	if (syscall(SYS_capget, &hdr, old)) {
		pr_perror("capget");
		return -1;
	}

	for (i = 0; i < sizeof(drop_bset) / sizeof(drop_bset[0]); i++)
		if (prctl(PR_CAPBSET_DROP, drop_bset[i], 0, 0, 0)) {
			pr_perror("PR_CAPBSET_DROP %d", drop_bset[i]);
			return -1;
		}
	if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0)) {
		pr_perror("PR_SET_SECUREBITS");
		return -1;
	}

	/* Permitted: all we have but a few; effective: two thirds of it. */
	for (cap = 0; cap <= last_cap; cap++) {
		if (!(old[cap / 32].permitted & (1U << (cap % 32))))
			continue;
		if (cap == CAP_SYS_BOOT || cap == CAP_MAC_ADMIN ||
		    cap == CAP_NET_RAW || cap == CAP_SYS_MODULE)
			continue;
		set_bit64(d, cap, 0);
		if (cap % 3 != 1)
			set_bit64(d, cap, 1);
	}
	for (i = 0; i < sizeof(inh) / sizeof(inh[0]); i++)
		if (old[inh[i] / 32].permitted & (1U << (inh[i] % 32)))
			set_bit64(d, inh[i], 2);
	if (syscall(SYS_capset, &hdr, d)) {
		pr_perror("capset");
		return -1;
	}
	for (i = 0; i < sizeof(amb) / sizeof(amb[0]); i++)
		if ((d[amb[i] / 32].inheritable & (1U << (amb[i] % 32))) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, amb[i], 0, 0)) {
			pr_perror("PR_CAP_AMBIENT_RAISE %d", amb[i]);
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct caps before, after;
	int i;

	test_init(argc, argv);
	if (read_last_cap()) {
		pr_perror("can't read cap_last_cap");
		return 1;
	}
	if (last_cap > 63) {
		skip("cap_last_cap %d: more than 64 capabilities", last_cap);
		return 0;
	}
	if (set_caps() || get_caps(&before)) {
		pr_perror("can't set the capabilities up");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (get_caps(&after)) {
		fail("can't read the capabilities");
		return 1;
	}
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		if (after.data[i].permitted != before.data[i].permitted) {
			fail("permitted[%d] %#x, expected %#x", i,
			     after.data[i].permitted,
			     before.data[i].permitted);
			return 1;
		}
		if (after.data[i].effective != before.data[i].effective) {
			fail("effective[%d] %#x, expected %#x", i,
			     after.data[i].effective,
			     before.data[i].effective);
			return 1;
		}
		if (after.data[i].inheritable != before.data[i].inheritable) {
			fail("inheritable[%d] %#x, expected %#x", i,
			     after.data[i].inheritable,
			     before.data[i].inheritable);
			return 1;
		}
	}
	if (after.bset != before.bset) {
		fail("bounding set %#llx, expected %#llx", after.bset,
		     before.bset);
		return 1;
	}
	if (after.ambient != before.ambient) {
		fail("ambient set %#llx, expected %#llx", after.ambient,
		     before.ambient);
		return 1;
	}
	if (after.securebits != before.securebits) {
		fail("securebits %#x, expected %#x", after.securebits,
		     before.securebits);
		return 1;
	}
	for (i = 0; i < 5; i++)
		if (strcmp(after.status[i], before.status[i])) {
			fail("%s %s, expected %s", status_keys[i],
			     after.status[i], before.status[i]);
			return 1;
		}
	pass();
	return 0;
}

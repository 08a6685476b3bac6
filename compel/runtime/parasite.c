// SPDX-License-Identifier: GPL-2.0
/*
 * The parasite's command loop: connect to the host's control socket, then
 * serve one command at a time until COMPEL_CMD_FINI.  Started from
 * __compel_parasite_entry with all signals blocked.
 */
#include <compel/parasite.h>
#include <compel/std.h>
#include <compel/sys.h>
#include <compel/uapi.h>

size_t compel_cmd_area_size;

struct fd_cmsg {
	struct k_cmsghdr hdr;
	int fds[COMPEL_MAX_FDS];
};

static long recv_cmd(int sk, struct compel_msg *msg, struct compel_fds *in)
{
	struct fd_cmsg control;
	struct k_iovec iov = { msg, sizeof(*msg) };
	struct k_msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof(control),
	};
	long ret;
	int i;

	do {
		ret = sys_recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	} while (ret == -EINTR);
	in->nr = 0;
	if (ret <= 0)
		return ret;
	if (ret != sizeof(*msg))
		return -EPROTO;
	if (mh.msg_controllen >= sizeof(struct k_cmsghdr) &&
	    control.hdr.cmsg_level == SOL_SOCKET &&
	    control.hdr.cmsg_type == SCM_RIGHTS) {
		in->nr = (control.hdr.cmsg_len - sizeof(struct k_cmsghdr)) /
			 sizeof(int);
		for (i = 0; i < in->nr; i++)
			in->fds[i] = control.fds[i];
	}
	return ret;
}

static long send_reply(int sk, struct compel_msg *msg,
		       const struct compel_fds *out)
{
	struct fd_cmsg control;
	struct k_iovec iov = { msg, sizeof(*msg) };
	struct k_msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int i;

	msg->nr_fds = out->nr;
	if (out->nr) {
		control.hdr.cmsg_len = K_CMSG_LEN(out->nr * sizeof(int));
		control.hdr.cmsg_level = SOL_SOCKET;
		control.hdr.cmsg_type = SCM_RIGHTS;
		for (i = 0; i < out->nr; i++)
			control.fds[i] = out->fds[i];
		mh.msg_control = &control;
		mh.msg_controllen = K_CMSG_SPACE(out->nr * sizeof(int));
	}
	return sys_sendmsg(sk, &mh, MSG_NOSIGNAL);
}

static void close_fds(struct compel_fds *fds)
{
	int i;

	for (i = 0; i < fds->nr; i++)
		sys_close(fds->fds[i]);
	fds->nr = 0;
}

COMPEL_EXPORT long compel_parasite_main(struct compel_parasite_header *hdr)
{
	char *args = (char *)hdr + hdr->cmd_area_offset;
	struct compel_fds in, out;
	struct compel_msg msg;
	long sk, ret;

	if (hdr->magic != COMPEL_PARASITE_MAGIC ||
	    hdr->version != COMPEL_PARASITE_VERSION)
		return -EINVAL;
	compel_cmd_area_size = hdr->cmd_area_size;

	sk = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		hdr->status = (int32_t)sk;
		return sk;
	}
	ret = sys_connect(sk, &hdr->sun_family, hdr->addr_len);
	if (ret < 0) {
		hdr->status = (int32_t)ret;
		sys_close(sk);
		return ret;
	}
	hdr->status = 0;

	for (;;) {
		ret = recv_cmd(sk, &msg, &in);
		if (ret <= 0)
			break;	/* the host went away: nothing more to do */
		out.nr = 0;
		if (msg.cmd == COMPEL_CMD_FINI) {
			close_fds(&in);
			msg.ret = 0;
			send_reply(sk, &msg, &out);
			break;
		}
		if (msg.cmd == COMPEL_CMD_PING)
			msg.ret = 0;
		else
			msg.ret = parasite_command(msg.cmd, args,
						   hdr->cmd_area_size, &in,
						   &out);
		close_fds(&in);
		send_reply(sk, &msg, &out);
		close_fds(&out);
	}
	sys_close(sk);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel ABI structures blobs pass to raw syscalls (the kernel's layouts,
 * not libc's: e.g. the kernel sigaction has an 8-byte mask).
 */
#ifndef COMPEL_UAPI_H
#define COMPEL_UAPI_H

#include <compel/types.h>

#define AF_UNIX		1
#define SOCK_SEQPACKET	5
#define SOCK_CLOEXEC	02000000
#define SOL_SOCKET	1
#define SCM_RIGHTS	1
#define MSG_NOSIGNAL	0x4000
#define MSG_CMSG_CLOEXEC 0x40000000

#define EINTR	4
#define EBADF	9
#define EFAULT	14
#define EINVAL	22
#define ENOSYS	38
#define EPROTO	71

struct k_sockaddr_un {
	uint16_t sun_family;
	char sun_path[108];
};

struct k_iovec {
	void *iov_base;
	size_t iov_len;
};

struct k_msghdr {
	void *msg_name;
	int msg_namelen;
	struct k_iovec *msg_iov;
	size_t msg_iovlen;
	void *msg_control;
	size_t msg_controllen;
	unsigned int msg_flags;
};

struct k_cmsghdr {
	size_t cmsg_len;
	int cmsg_level;
	int cmsg_type;
};

#define K_CMSG_ALIGN(len) ALIGN_UP((len), sizeof(size_t))
#define K_CMSG_SPACE(len) (sizeof(struct k_cmsghdr) + K_CMSG_ALIGN(len))
#define K_CMSG_LEN(len) (sizeof(struct k_cmsghdr) + (len))

struct k_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct k_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	uint32_t pad;
	uint64_t ss_size;
};

struct k_timeval {
	int64_t tv_sec;
	int64_t tv_usec;
};

struct k_itimerval {
	struct k_timeval it_interval;
	struct k_timeval it_value;
};

struct k_rlimit64 {
	uint64_t rlim_cur;
	uint64_t rlim_max;
};

#endif

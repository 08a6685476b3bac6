/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the host starts a parasite: rdi = the parasite header (args area),
 * rsp = top of the parasite's stack, 16-byte aligned.  When the command
 * loop ends, the thread waits in pause() (all signals are blocked) until
 * the host interrupts it and puts the task's own registers back.
 */
#include <compel/syscall-nr.h>

	.text
	.globl	__compel_parasite_entry
	.type	__compel_parasite_entry, @function
__compel_parasite_entry:
	call	compel_parasite_main
1:	movl	$__NR_pause, %eax
	syscall
	jmp	1b
	.size	__compel_parasite_entry, . - __compel_parasite_entry
	.section .note.GNU-stack, "", @progbits

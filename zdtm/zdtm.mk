# zdtm build rules: the C test library and the static tests.
# Included by the top Makefile (paths are relative to the repository root).

ZDTM_CC      ?= gcc
ZDTM_CFLAGS  := -O2 -g -Wall -Werror -D_GNU_SOURCE -Izdtm/lib
# Per-test libraries: ZDTM_LDLIBS_<test> := -lpthread ...

ZDTM_LIB_SRC := $(wildcard zdtm/lib/*.c)
ZDTM_LIB_OBJ := $(ZDTM_LIB_SRC:.c=.o)
ZDTM_LIB     := zdtm/lib/libzdtmtst.a

# Every zdtm/static/NAME.c is a test (with its NAME.desc).
ZDTM_STATIC  := $(sort $(basename $(notdir $(wildcard zdtm/static/*.c))))
ZDTM_STATIC_BIN := $(addprefix zdtm/static/,$(ZDTM_STATIC))

BUILD += $(ZDTM_LIB) $(ZDTM_STATIC_BIN)
CLEAN += $(ZDTM_LIB) $(ZDTM_LIB_OBJ) $(ZDTM_STATIC_BIN) zdtm-dumps

zdtm/lib/%.o: zdtm/lib/%.c zdtm/lib/zdtmtst.h zdtm/lib/lib.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) -c -o $@ $<

$(ZDTM_LIB): $(ZDTM_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

zdtm/static/%: zdtm/static/%.c $(ZDTM_LIB) $(wildcard zdtm/lib/*.h)
	$(ZDTM_CC) $(ZDTM_CFLAGS) -o $@ $< $(ZDTM_LIB) $(ZDTM_LDLIBS_$*)

.PHONY: zdtm
zdtm: $(ZDTM_LIB) $(ZDTM_STATIC_BIN)

# Threads, signals, timers, credentials, seccomp, scheduling, shared memory.
ZDTM_LDLIBS_pthread00 := -lpthread
ZDTM_LDLIBS_pthread01 := -lpthread
ZDTM_LDLIBS_pthread02 := -lpthread
ZDTM_LDLIBS_sigpending := -lpthread
ZDTM_LDLIBS_pthread_timers := -lpthread

# stopped01, stopped02 and stopped12 are stopped.c with other defines.
zdtm/static/stopped01 zdtm/static/stopped02 zdtm/static/stopped12: zdtm/static/stopped.c
ZDTM_LDLIBS_thread_different_uid_gid := -lpthread
ZDTM_LDLIBS_seccomp_filter_tsync := -lpthread
ZDTM_LDLIBS_seccomp_filter_threads := -lpthread
ZDTM_LDLIBS_seccomp_no_new_privs := -lpthread
ZDTM_LDLIBS_sched_prio00 := -lpthread
ZDTM_LDLIBS_sched_policy00 := -lpthread
ZDTM_LDLIBS_futex := -lpthread
ZDTM_LDLIBS_futex-rl := -lpthread

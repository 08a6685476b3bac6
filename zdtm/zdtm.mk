# zdtm build rules: the C test library and the static tests.
# Included by the top Makefile (paths are relative to the repository root).

ZDTM_CC      ?= gcc
ZDTM_CFLAGS  := -O2 -g -Wall -Werror -D_GNU_SOURCE -Izdtm/lib

ZDTM_LIB_SRC := $(wildcard zdtm/lib/*.c)
ZDTM_LIB_OBJ := $(ZDTM_LIB_SRC:.c=.o)
ZDTM_LIB     := zdtm/lib/libzdtmtst.a

ZDTM_STATIC  := env00 sleeping00 maps00 maps01 mprotect00 brk fpu00 fpu01 \
		vdso00 write_read00 cwd00 umask00 sigaltstack sigaction \
		rseq00 rlimits00 selfexe00 cmdlinenv00
ZDTM_STATIC_BIN := $(addprefix zdtm/static/,$(ZDTM_STATIC))

BUILD += $(ZDTM_LIB) $(ZDTM_STATIC_BIN)
CLEAN += $(ZDTM_LIB) $(ZDTM_LIB_OBJ) $(ZDTM_STATIC_BIN) zdtm-dumps

zdtm/lib/%.o: zdtm/lib/%.c zdtm/lib/zdtmtst.h zdtm/lib/lib.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) -c -o $@ $<

$(ZDTM_LIB): $(ZDTM_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

zdtm/static/%: zdtm/static/%.c $(ZDTM_LIB) zdtm/lib/zdtmtst.h zdtm/lib/fpu.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) -o $@ $< $(ZDTM_LIB)

.PHONY: zdtm
zdtm: $(ZDTM_LIB) $(ZDTM_STATIC_BIN)

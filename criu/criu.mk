# criu build rules: the restorer blob, built with compel's blob tooling.
RESTORER_BLOB := criu/restorer/restorer.blob
RESTORER_DEPS := criu/restorer/restorer.c criu/restorer/restorer.h \
	$(wildcard compel/runtime/*.c compel/include/compel/*.h \
		   compel/arch/x86/include/compel/asm/*.h \
		   compel/arch/x86/blob.lds compel/arch/x86/syscalls.tbl \
		   compel/build.py compel/elf.py compel/blob.py)

$(RESTORER_BLOB): $(RESTORER_DEPS) $(STAMP_VENV)
	$(VENV)/bin/compel build -I criu/restorer -o $@ criu/restorer/restorer.c

BUILD += $(RESTORER_BLOB)
CLEAN += $(RESTORER_BLOB)

# compel build rules: the standard parasite blob, built with compel itself.

COMPEL_STD_BLOB := compel/parasite/std.blob
COMPEL_BLOB_DEPS := compel/parasite/std.c compel/parasite/std.h \
	$(wildcard compel/runtime/*.c compel/include/compel/*.h \
		   compel/arch/x86/include/compel/asm/*.h \
		   compel/arch/x86/runtime/*.S compel/arch/x86/blob.lds \
		   compel/arch/x86/syscalls.tbl compel/build.py compel/elf.py \
		   compel/blob.py)

$(COMPEL_STD_BLOB): $(COMPEL_BLOB_DEPS) $(STAMP_VENV)
	$(VENV)/bin/compel build --parasite -o $@ compel/parasite/std.c

BUILD += $(COMPEL_STD_BLOB)
CLEAN += $(COMPEL_STD_BLOB)

# criu build rules: the restorer blob, built with compel's blob tooling.
RESTORER_BLOB := criu/restorer/restorer.blob
RESTORER_SRC  := criu/restorer/restorer.c criu/restorer/restorer.h

$(RESTORER_BLOB): $(RESTORER_SRC) $(STAMP_VENV) compel/build.py \
		compel/arch/x86/syscalls.tbl $(wildcard compel/runtime/*.c) \
		$(wildcard compel/include/compel/*.h)
	$(PY) -c 'import sys; from compel.build import build; \
		build(sys.argv[2:], sys.argv[1], includes=["criu/restorer"])' \
		$@ criu/restorer/restorer.c

BUILD += $(RESTORER_BLOB)
CLEAN += $(RESTORER_BLOB)

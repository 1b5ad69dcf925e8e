# runtime/smf.mk — the Standard MIDI File reader and writer (runtime/smf.c).
#
# Included from runtime/runtime.mk before the archive rule, so smf.o goes
# into $(B)/libamprt.a; the generic $(B)/runtime/%.o rule builds it. Its
# suite is tests/check_smf.c, picked up by tests/tests.mk like every
# check_*.c (50,000 mutated files among its tests).

RUNTIME_OBJS += $(B)/runtime/smf.o

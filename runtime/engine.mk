# runtime/engine.mk — the engine host (tracks, mixer, transport, scheduler)
# and the JSON project format. Included from runtime/runtime.mk before the
# $(B)/libamprt.a rule, so the objects join the runtime archive.
#
# `make demo-golden-update` re-renders tests/projects/demo.json and rewrites
# its fingerprint, tests/golden/demo_mix.txt (review the diff: an intended
# change to the engine, a patch in nodes/ or the math kernels moves it).

RUNTIME_OBJS += $(B)/runtime/engine_control.o $(B)/runtime/engine_apply.o $(B)/runtime/engine_render.o \
                $(B)/runtime/project.o
# engine_commands.c: the command ring drained into the engine (patch stocks,
# handle tables); midi_import.c: Standard MIDI Files to project documents.
RUNTIME_OBJS += $(B)/runtime/engine_commands.o
RUNTIME_OBJS += $(B)/runtime/midi_import.o

.PHONY: demo-golden-update
demo-golden-update: $(B)/tests/check_project
	AMP_GOLDEN_UPDATE=1 $(B)/tests/check_project

# project.o (in libamprt.a) calls the compiler library, which tests.mk links
# before the runtime archive; a binary that uses project.c needs it again
# after. (`amp` links libamprt.a before libampc.a already.)
$(B)/tests/check_project: CHECK_LDLIBS += $(B)/libampc.a
$(B)/tests/check_midi_import: CHECK_LDLIBS += $(B)/libampc.a

# The malloc interposition of the no-allocation test (tests.mk's rule
# lists only testutil.h).
$(B)/tests/check_engine_commands: tests/alloc_count.h

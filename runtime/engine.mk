# runtime/engine.mk — the engine host (tracks, mixer, transport, scheduler)
# and the JSON project format. Included from runtime/runtime.mk before the
# $(B)/libamprt.a rule, so the objects join the runtime archive.
#
# A project goes through four files, one stage each: project_read.c (JSON
# -> Project), project_resolve.c (patches through the caller's loader, WAV
# files), project_feed.c (Project -> engine commands; also in engine.wasm),
# project_render.c (the offline loop). The native patch loader is
# runtime/patch_loader.c, in libamptools.a (runtime.mk).
#
# `make demo-golden-update` re-renders tests/projects/demo.json and rewrites
# its fingerprint, tests/golden/demo_mix.txt (review the diff: an intended
# change to the engine, a patch in nodes/ or the math kernels moves it).

RUNTIME_OBJS += $(B)/runtime/engine.o
RUNTIME_OBJS += $(B)/runtime/project_read.o $(B)/runtime/project_resolve.o \
                $(B)/runtime/project_feed.o $(B)/runtime/project_render.o
# engine_commands.c: the command ring drained into the engine (patch stocks,
# handle tables); midi_import.c: Standard MIDI Files to project documents.
RUNTIME_OBJS += $(B)/runtime/engine_commands.o
RUNTIME_OBJS += $(B)/runtime/midi_import.o

.PHONY: demo-golden-update
demo-golden-update: $(B)/tests/check_project
	AMP_GOLDEN_UPDATE=1 $(B)/tests/check_project

# The malloc interposition of the no-allocation test (tests.mk's rule
# lists only testutil.h).
$(B)/tests/check_engine_commands: tests/alloc_count.h

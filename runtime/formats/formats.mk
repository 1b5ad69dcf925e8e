# runtime/formats/formats.mk — file formats, $(B)/libampformats.a: WAV,
# Standard MIDI Files and their import as projects, note lists, the JSON
# project document. Native only; nothing here runs on the audio thread.
#
# A project goes through four files, one stage each: project_read.c (JSON
# -> Project, here), project_resolve.c (patches through the caller's
# loader, WAV files, here), runtime/engine/project_feed.c (Project -> engine
# commands; also in engine.wasm), runtime/tools/project_render.c (the
# offline loop). The native patch loader is runtime/tools/patch_loader.c.
#
# `make demo-golden-update` re-renders tests/projects/demo.json and rewrites
# its fingerprint, tests/golden/demo_mix.txt (review the diff: an intended
# change to the engine, a patch in nodes/ or the math kernels moves it).

FORMATS_SRCS := $(addprefix runtime/formats/,json.c json_write.c wav.c smf.c midi_import.c notes.c project_read.c project_resolve.c)
FORMATS_OBJS := $(patsubst runtime/%.c,$(B)/runtime/%.o,$(FORMATS_SRCS))

$(B)/libampformats.a: $(FORMATS_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

.PHONY: demo-golden-update
demo-golden-update: $(B)/tests/check_project
	AMP_GOLDEN_UPDATE=1 $(B)/tests/check_project

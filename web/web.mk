# web/web.mk — the browser app: engine.wasm, the TypeScript bundles, the
# page, and the browser tests. Included by the top Makefile (-include), which
# sets B, CC, CFLAGS, CPPFLAGS and DEPS_STAMP.
#
#   make web        build everything the page needs into $(B)/web/
#   make test-web   the browser tests (headless Debian chromium through
#                   playwright-core): isolation and MIME, native/browser
#                   parity of every patch, the page played, the command
#                   ring, the export of a performance and of a project, a
#                   sampler's sample slot in the DAW (daw_samples.mjs)
#
# engine.wasm is the same C as the native build: every file of
# runtime/engine/ (the multi-track engine, its command codec and consumer,
# voices, rings, pools, the project feed), runtime/wasm/ (the exports: the
# page's engine, the export worker's project render), the project reader,
# resolver and WAV code of runtime/formats/ with our JSON reader (no
# jansson), the render loop runtime/tools/project_render.c, and every
# patch of nodes/*.amp as ampc compiles it, built with emscripten over one
# shared, imported memory whose size the page picks (below).
# -ffp-contract=off and no fast-math keep its arithmetic the native
# build's, bit for bit. Not in it: the files' own I/O (AMP_NO_FILES),
# runtime/tools/ but project_render.c (the compiler, dlopen, the native
# single-patch render).

WEB_OUT      := $(B)/web
WEB_GEN      := $(B)/web-gen
# The npm packages, exactly as web/package-lock.json has them (the stamp's
# rule is in runtime/gen/gen.mk).
WEB_NPM_STAMP := $(B)/.npm-ok
EMCC         ?= emcc
NPM          ?= npm
NODE         ?= node
# The memory is the page's choice when it instantiates the module (pages of
# 64 KiB): the module imports a shared memory of at least WEB_MIN_PAGES
# (its data, the 1 MiB stack and a small heap) and at most WEB_MAX_PAGES
# (2 GiB: addresses stay below 2^31, so every pointer an export returns is
# a positive JavaScript number). amp_init_sized lays out the engine for
# the limits the page asks for, in a memory of memoryPagesFor(limits)
# pages (web/src/engine/limits.ts, from the memory model the build writes
# into engine.json); nothing allocates after that on the page's engine.
# The heap may grow (memory.grow, up to the maximum) on the control side
# only: the export worker's project render allocates as it needs.
# WEB_MEMORY_PAGES (64 MiB) is what amp_init(rate), the fixed sizes of
# before, needs: a state pool for NODE_STOCK (2) ready nodes of every patch
# plus two more sets for the ones playing (4 x 6.7 MB for nodes/ today), a
# 16 MiB sample pool, small clip and lane pools and the tables of 64
# tracks: about 45 MiB. The stack is 1 MiB, the command ring 64 KiB.
WEB_MEMORY_PAGES := 1024
WEB_MIN_PAGES    := 256
WEB_MAX_PAGES    := 32768
WEB_STACK_BYTES  := 1048576

WEB_PATCH_FILES := $(sort $(wildcard nodes/*.amp))
WEB_PATCH_DEPS  := $(WEB_PATCH_FILES) $(sort $(wildcard nodes/std/*.amp nodes/faust/*.dsp))
# The export worker's project render (runtime/wasm/wasm_project.c) brings
# the project's reader and resolver, our JSON reader, WAV in memory and the
# render loop of `amp render`: the same files as the native build, with
# AMP_NO_FILES (no file system in the browser).
WEB_PROJECT_SRCS := runtime/wasm/wasm_project.c runtime/tools/project_render.c \
                    $(addprefix runtime/formats/,json.c project_read.c project_resolve.c wav.c)
WEB_ENGINE_SRCS := runtime/wasm/wasm_main.c $(sort $(wildcard runtime/engine/*.c)) $(WEB_PROJECT_SRCS) runtime/wasm/wasm_midi.c $(addprefix runtime/formats/,json_write.c smf.c midi_import.c)
WEB_ENGINE_HDRS := $(wildcard runtime/*.h runtime/abi/*.h runtime/engine/*.h runtime/formats/*.h runtime/tools/*.h) \
                   runtime/engine/commands.def runtime/engine/layout.def
# -fno-slp-vectorize: clang's straight-line vectorizer packs independent
# scalar recursions (four biquads' states) into f32x4 with a lane insert
# and extract per value, which V8 runs at half the speed of the scalar code
# (make bench: biquad chain 0.50x native with it, 0.94x without); our voice
# code is vectorised by hand and does not need it.
WEB_EMCC_FLAGS  := -std=c11 -O3 -msimd128 -ffp-contract=off -fno-fast-math -fno-slp-vectorize \
                   -matomics -mbulk-memory -Wall -Wextra -Wshadow -Wmissing-prototypes \
                   -Wno-unused-parameter \
                   $(RUNTIME_INCLUDES) -I$(WEB_GEN)/patches \
                   -D_GNU_SOURCE -DAMP_NO_FILES \
                   -Wl,--shared-memory -sIMPORTED_MEMORY -sSTANDALONE_WASM --no-entry \
                   -sINITIAL_MEMORY=$(shell expr $(WEB_MIN_PAGES) \* 65536) \
                   -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=$(shell expr $(WEB_MAX_PAGES) \* 65536) \
                   -sTOTAL_STACK=$(WEB_STACK_BYTES)

# Patch modules (runtime/wasm/wasm_modules.c, "Loadable patch modules" in
# runtime/wasm/README.md): the engine exports a growable function table for
# them, and modules/ holds a few built from nodes/ by patch_module.sh.
WEB_ENGINE_SRCS += runtime/wasm/wasm_modules.c
WEB_ENGINE_HDRS += runtime/wasm/wasm_modules.h
WEB_EMCC_FLAGS  += -sALLOW_TABLE_GROWTH=1 -Iruntime/wasm
WEB_MODULE_PATCHES := epiano stereo_delay
WEB_MODULES := $(patsubst %,$(WEB_OUT)/modules/%.module.wasm,$(WEB_MODULE_PATCHES))

.PHONY: web-modules
web-modules: $(WEB_MODULES)
web: $(WEB_MODULES)

# NAME.module.wasm and NAME.module.json from nodes/NAME.amp (its last patch).
$(WEB_OUT)/modules/%.module.wasm: nodes/%.amp runtime/wasm/patch_module.sh runtime/wasm/module/string.h \
                                  runtime/abi/amp_patch.h runtime/abi/amp_dsp.h runtime/abi/amp_math.h runtime/abi/amp_oversample.h \
                                  $(sort $(wildcard nodes/std/*.amp)) $(B)/ampc
	sh runtime/wasm/patch_module.sh $(B)/ampc $< $(WEB_OUT)/modules

WEB_TS_SRCS  := $(shell find web/src -name '*.ts' -o -name '*.tsx' 2>/dev/null | LC_ALL=C sort)
WEB_STATIC   := $(wildcard web/public/*)
WEB_COMMANDS_TS := $(B)/gen/web/commands.ts
# The layout module and its JSON copy for the tests: runtime/layout.mk.
WEB_LAYOUT_TS   := $(B)/gen/web/layout.ts
WEB_LAYOUT_JSON := $(B)/gen/web/layout.json

.PHONY: web test-web
web: $(WEB_OUT)/engine.wasm $(WEB_OUT)/engine.json $(WEB_OUT)/.bundles \
     $(patsubst web/public/%,$(WEB_OUT)/%,$(WEB_STATIC))

# ---- engine.wasm ---------------------------------------------------------
$(WEB_GEN)/.stamp: web/gen_patches.sh $(WEB_PATCH_DEPS) $(B)/ampc
	@mkdir -p $(WEB_GEN)
	sh web/gen_patches.sh $(B)/ampc $(WEB_GEN) $(WEB_MEMORY_PAGES) nodes $(WEB_PATCH_FILES)
	@touch $@

$(WEB_OUT)/engine.wasm: $(WEB_GEN)/.stamp $(WEB_ENGINE_SRCS) $(WEB_ENGINE_HDRS) web/web.mk | $(DEPS_STAMP)
	@mkdir -p $(WEB_OUT)
	NODE_PATH=$${NODE_PATH:-/usr/share/nodejs} $(EMCC) $(WEB_EMCC_FLAGS) -o $@.tmp.wasm \
	    $(WEB_ENGINE_SRCS) $(WEB_GEN)/registry.c $$(LC_ALL=C ls $(WEB_GEN)/patches/*.c)
	mv $@.tmp.wasm $@

# engine.json: gen_patches.sh's, with the memory model measured on the
# module itself (web/memory_model.mjs).
$(WEB_OUT)/engine.json: $(WEB_GEN)/.stamp $(WEB_OUT)/engine.wasm web/memory_model.mjs
	@mkdir -p $(WEB_OUT)
	$(NODE) web/memory_model.mjs $(WEB_OUT)/engine.wasm $(WEB_GEN)/engine.json $(WEB_MIN_PAGES) $(WEB_MAX_PAGES) > $@.tmp
	mv $@.tmp $@

# ---- ampc.wasm: the compiler's check in the editor's worker --------------
# compiler/wasm/ampc_wasm.c: `ampc patch.amp --check --confine -I lib` on
# text in memory, its imports read from the library the worker hands it
# ($(WEB_OUT)/ampc-library.json, every .amp and .dsp of nodes/, the folder
# `make run` gives ampd as --library). The compiler's and lang/'s C as
# the native ampc has it, but main.c (the command line) and faust.c (faust
# and jansson: compiler/wasm/faust_server.c leaves a Faust import to the
# server); runtime/formats/json_write.c for the metadata. A standalone
# module with its own memory (no threads); the worker supplies the few
# WASI calls it imports (stdio it never uses on this path).
AMPC_WASM_SRCS := $(sort $(wildcard lang/*.c)) $(B)/gen/lex.c $(B)/gen/parse.c \
                  $(filter-out compiler/main.c compiler/faust.c,$(sort $(wildcard compiler/*.c))) \
                  compiler/wasm/ampc_wasm.c compiler/wasm/faust_server.c runtime/formats/json_write.c \
                  runtime/formats/wav.c
AMPC_WASM_FLAGS := -std=c11 -O2 -ffp-contract=off -fno-fast-math -D_GNU_SOURCE \
                   -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter \
                   -Ilang -Icompiler -Icompiler/wasm $(RUNTIME_INCLUDES) -I$(B)/gen \
                   -sSTANDALONE_WASM --no-entry -sALLOW_MEMORY_GROWTH=1 -sTOTAL_STACK=4194304 \
                   -sEXPORTED_FUNCTIONS=_malloc,_free
WEB_NODES_FILES := $(sort $(wildcard nodes/*.amp nodes/*/*.amp nodes/*/*.dsp))

.PHONY: ampc-wasm
ampc-wasm: $(WEB_OUT)/ampc.wasm $(WEB_OUT)/ampc-library.json
web: $(WEB_OUT)/ampc.wasm $(WEB_OUT)/ampc-library.json

$(WEB_OUT)/ampc.wasm: $(AMPC_WASM_SRCS) $(wildcard lang/*.h compiler/*.h compiler/wasm/*.h) runtime/formats/json_write.h \
                      $(B)/gen/parse.h web/web.mk | $(DEPS_STAMP)
	@mkdir -p $(WEB_OUT)
	NODE_PATH=$${NODE_PATH:-/usr/share/nodejs} $(EMCC) $(AMPC_WASM_FLAGS) -o $@.tmp.wasm $(AMPC_WASM_SRCS)
	mv $@.tmp.wasm $@

$(WEB_OUT)/ampc-library.json: web/gen_ampc_library.mjs $(WEB_NODES_FILES)
	@mkdir -p $(WEB_OUT)
	$(NODE) web/gen_ampc_library.mjs nodes > $@.tmp
	mv $@.tmp $@

# ---- npm packages and the generated command encoder ----------------------

# ---- the TypeScript: type check, then bundle -------------------------------
# Three ES-module bundles: the page, the AudioWorklet processor, the export
# worker. web/tsconfig.app.json maps @amp/gen/* to $(B)/gen/web/* (the
# generated commands.ts and layout.ts).
$(WEB_OUT)/.bundles: $(WEB_TS_SRCS) $(WEB_COMMANDS_TS) $(WEB_LAYOUT_TS) web/tsconfig.json web/tsconfig.app.json $(WEB_NPM_STAMP)
	@mkdir -p $(WEB_OUT)
	web/node_modules/.bin/tsc -p web/tsconfig.app.json --noEmit
	web/node_modules/.bin/esbuild web/src/ui/main.tsx web/src/editor/editor.ts web/src/editor/ampc-worker.ts web/src/worklet.ts web/src/export-worker.ts \
	    --bundle --format=esm --target=es2022 --tsconfig=web/tsconfig.app.json \
	    --define:process.env.NODE_ENV='"production"' \
	    --outdir=$(WEB_OUT) --entry-names=[name] --log-level=warning
	@touch $@

$(WEB_OUT)/%: web/public/%
	@mkdir -p $(WEB_OUT)
	cp $< $@

# ---- browser tests ---------------------------------------------------------
# tests/web/run.mjs serves $(B)/web (through $(B)/ampd when it exists, else
# tests/web/serve.mjs), drives /usr/bin/chromium headless (Debian's
# `chromium` package) and compares with $(B)/amp renders. About 30 s.
WEB_TEST_SERVER := $(if $(wildcard server/server.mk),$(B)/ampd)
TEST_STEPS += test-web
test-web: web $(B)/amp $(WEB_NPM_STAMP) $(WEB_TEST_SERVER) $(WEB_LAYOUT_JSON)
	B=$(B) $(NODE) tests/web/run.mjs

# ---- make bench-daw: issue 11's benchmark (not in make test) ----------------
# A generated 32-track, 500-clip project played in the DAW in headless
# Chromium while the timeline scrolls and zooms: the longest main-thread
# task, frames per second, the worklet's CPU per quantum. Prints a table and
# writes it into BENCHMARKS.md's "The DAW in the browser" section (with the
# machine's load). Not a prerequisite of `make bench`, which rewrites
# BENCHMARKS.md as a whole: run it after. BENCH_DAW_ARGS=--profile prints
# the main thread's self times.
.PHONY: bench-daw
bench-daw: web $(WEB_NPM_STAMP) $(WEB_TEST_SERVER)
	B=$(B) $(NODE) tests/web/bench_daw.mjs --write $(BENCH_DAW_ARGS)

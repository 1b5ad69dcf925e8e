# tests/bench/bench.mk — `make bench`: our compiled patches against Faust,
# native against WebAssembly, ampc against faust; then the server's rows
# (`make bench-server`, server/server.mk: ampd against nginx, the API). Not
# part of `make test` (no timing is ever asserted by a test). Prints one
# table and writes it to BENCHMARKS.md (the server's table goes to
# $(B)/bench/server.txt); what each row runs is in tests/bench/README.md.
#
# Everything it builds goes under $(B)/bench/:
#   our C       ampc on tests/bench/*.amp and nodes/std/fx.amp (freeverb);
#               synthbench_scalar.c, the synth emitted with AmpcOptions.scalar
#               (ampc_scalar; scalar.txt says whether it differs from the SIMD C)
#   faust/      faust -lang c (NAME_s.c) and faust -lang c -vec (NAME_v.c)
#   bench       the native driver: ours and Faust's C, built with BENCH_CC and
#               BENCH_CFLAGS, the same for both
#   bench_wasm.js/.wasm  our cases built with emcc BENCH_EMFLAGS, run under node
#
#   make bench BENCH_RUNS=41 BENCH_TARGET_MS=30 BENCH_CPU=1 BENCH_CLOCK=cpu

BENCH_CC        ?= $(CC)
BENCH_CFLAGS    ?= -std=c11 -D_GNU_SOURCE -O3 -ffp-contract=off -fno-fast-math
BENCH_EMCC      ?= emcc
BENCH_EMFLAGS   ?= -O3 -msimd128 -ffp-contract=off -fno-slp-vectorize
BENCH_NODE      ?= node
BENCH_FAUST     ?= faust
BENCH_RUNS      ?= 31
BENCH_COMPILE_RUNS ?= 15
BENCH_TARGET_MS ?= 20
BENCH_CPU       ?= -1
# wall: monotonic wall time; cpu: CPU time of the timed thread (for a shared machine)
BENCH_CLOCK     ?= wall
# emscripten 3.1.6 from Debian finds its node modules (acorn, ...) here
BENCH_EMENV     ?= NODE_PATH=/usr/share/nodejs

BB := $(B)/bench
BENCH_DSPS := synth biquads svf freeverb denorm
BENCH_OUR_C := $(BB)/synthbench.c $(BB)/biquads.c $(BB)/svfbench.c $(BB)/freeverb.c $(BB)/denormbench.c
BENCH_RT_SRCS := runtime/tools/host.c runtime/engine/voice.c runtime/engine/patch_swap.c runtime/formats/notes.c
BENCH_FAUST_OBJS := $(foreach d,$(BENCH_DSPS),$(BB)/faust/$(d)_s.o $(BB)/faust/$(d)_v.o)
BENCH_NATIVE_OBJS := $(BB)/bench.o $(BB)/cases.o $(patsubst %.c,%.o,$(BENCH_OUR_C)) \
    $(BB)/synthbench_scalar.o $(patsubst runtime/%.c,$(BB)/rt/%.o,$(BENCH_RT_SRCS)) \
    $(BENCH_FAUST_OBJS)
BENCH_HDRS := $(wildcard runtime/abi/*.h) runtime/tools/host.h runtime/engine/voice.h

.PHONY: bench bench-build bench-compare
.PRECIOUS: $(BB)/faust/%_s.c $(BB)/faust/%_v.c

bench: bench-build $(if $(BENCH_BROWSER),bench-browser)
	@$(BB)/bench $(if $(BENCH_BROWSER),--browser $(BB)/browser.tsv) --out BENCHMARKS.md --bdir $(BB) --ampc $(B)/ampc --faust $(BENCH_FAUST) \
	    --emcc $(BENCH_EMCC) --node $(BENCH_NODE) --wasm-js $(BB)/bench_wasm.js \
	    --driver-js tests/bench/wasm_driver.js --notes tests/bench/README.md \
	    --cc "$(BENCH_CC)" --cflags "$(BENCH_CFLAGS)" --emflags "$(BENCH_EMFLAGS)" \
	    --runs $(BENCH_RUNS) --compile-runs $(BENCH_COMPILE_RUNS) --target-ms $(BENCH_TARGET_MS) \
	    --cpu $(BENCH_CPU) --clock $(BENCH_CLOCK) --scalar $$(grep -c '^scalar' $(BB)/scalar.txt)
	@$(MAKE) --no-print-directory bench-server

bench-build: $(DEPS_STAMP) $(BB)/bench $(BB)/bench_wasm.js

# The output comparison alone (no timing, BENCHMARKS.md untouched): every
# Faust row's output against ours, in dB; exits 1 if one is not below
# -60 dB or a control does not show its error. Independent of the load.
bench-compare: $(DEPS_STAMP) $(BB)/bench
	@$(BB)/bench --only compare

# Some rows timed alone (BENCHMARKS.md untouched), for a quick look:
# make bench-rows BENCH_ROWS=svf,freeverb,wasm-freeverb (names: bench.c row_on)
BENCH_ROWS ?= biquads,svf,freeverb
.PHONY: bench-rows
bench-rows: bench-build
	@$(BB)/bench --rows $(BENCH_ROWS) --bdir $(BB) --node $(BENCH_NODE) --wasm-js $(BB)/bench_wasm.js \
	    --driver-js tests/bench/wasm_driver.js --runs $(BENCH_RUNS) --target-ms $(BENCH_TARGET_MS) \
	    --cpu $(BENCH_CPU) --clock $(BENCH_CLOCK)

# Instructions per sample of every row's sides, counted by valgrind's
# callgrind in the render alone (tests/bench/instructions.sh): the measure
# to compare code by on a loaded machine. BENCH_INSTR_ROWS picks rows.
BENCH_INSTR_ROWS ?=
.PHONY: bench-instructions
bench-instructions: $(DEPS_STAMP) $(BB)/bench
	@tests/bench/instructions.sh $(BB)/bench $(BENCH_INSTR_ROWS)

# The same for our WebAssembly build under node (tests/bench/wasm_instructions.sh:
# V8's optimised code counted by callgrind between two marks around one render),
# beside the native count. About a minute a row.
.PHONY: bench-instructions-wasm
bench-instructions-wasm: bench-build
	@tests/bench/wasm_instructions.sh $(BB)/bench $(BB)/bench_wasm.js $(BENCH_INSTR_ROWS)

# ---- make bench-browser: the engine in an AudioWorklet (issue 15) -----------
# tests/bench/browser.mjs in headless Chromium (Debian's chromium through
# playwright-core): the empty engine and synth.amp's voice (a patch module)
# timed by OfflineAudioContext renders, the demo project and a 16-track
# project by the DAW's CPU readout (a worker's clock in shared memory).
# Prints its rows and writes them to $(BB)/browser.tsv; `make bench
# BENCH_BROWSER=1` runs it first and puts the rows in the table. Not in
# `make test`; no timing is asserted.
BENCH_BROWSER ?=
BENCH_BROWSER_ARGS ?=
.PHONY: bench-browser
bench-browser: web $(B)/ampc
	@mkdir -p $(BB)
	B=$(B) $(BENCH_NODE) tests/bench/browser.mjs --out $(BB)/browser.tsv $(BENCH_BROWSER_ARGS)

# ---- our C -----------------------------------------------------------------
$(BB)/synthbench.c: tests/bench/synth.amp nodes/std/osc.amp nodes/std/env.amp nodes/std/filter.amp $(B)/ampc
	@mkdir -p $(BB)
	$(B)/ampc $< -o $(BB)
$(BB)/biquads.c: tests/bench/blocks.amp nodes/std/filter.amp $(B)/ampc
	@mkdir -p $(BB)
	$(B)/ampc $< --unit biquads -o $(BB)
$(BB)/svfbench.c: tests/bench/blocks.amp nodes/std/filter.amp $(B)/ampc
	@mkdir -p $(BB)
	$(B)/ampc $< --unit svfbench -o $(BB)
$(BB)/freeverb.c: nodes/std/fx.amp $(B)/ampc
	@mkdir -p $(BB)
	$(B)/ampc $< --unit freeverb -o $(BB)
$(BB)/denormbench.c: tests/bench/denorm.amp nodes/std/filter.amp nodes/std/fx.amp $(B)/ampc
	@mkdir -p $(BB)
	$(B)/ampc $< -o $(BB)

$(BB)/ampc_scalar: tests/bench/ampc_scalar.c $(COMPILER_LIBS) | $(DEPS_STAMP)
	@mkdir -p $(BB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(COMPILER_LIBS) -ljansson $(LDLIBS)

$(BB)/synthbench_scalar.c $(BB)/scalar.txt &: tests/bench/synth.amp $(BB)/synthbench.c $(BB)/ampc_scalar
	$(BB)/ampc_scalar $< $(BB)/synthbench_scalar.c > $(BB)/scalar.txt
	@echo "bench: AmpcOptions.scalar gives $$(cat $(BB)/scalar.txt) C (same: scalar emission not implemented)"

# ---- Faust's C -----------------------------------------------------------------
# amp.lib: nodes/std's algorithms in Faust, imported by every .dsp
BENCH_FAUST_LIB := tests/bench/amp.lib
$(BB)/faust/%_s.c: tests/bench/%.dsp $(BENCH_FAUST_LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(BENCH_FAUST) -lang c -cn $*_s $< -o $@
$(BB)/faust/%_v.c: tests/bench/%.dsp $(BENCH_FAUST_LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(BENCH_FAUST) -lang c -vec -cn $*_v $< -o $@

# ---- flags: a change of compiler or flags (also on the command line) rebuilds ------
BENCH_FLAGS_LINE  := $(BENCH_CC) | $(BENCH_CFLAGS) | $(BENCH_EMCC) $(BENCH_EMFLAGS)
BENCH_FLAGS_STAMP := $(BB)/flags.txt
ifneq ($(filter bench bench-build bench-compare bench-instructions bench-instructions-wasm bench-rows,$(MAKECMDGOALS)),)
$(shell mkdir -p $(BB); [ "$$(cat $(BENCH_FLAGS_STAMP) 2>/dev/null)" = '$(BENCH_FLAGS_LINE)' ] || \
        echo '$(BENCH_FLAGS_LINE)' > $(BENCH_FLAGS_STAMP))
endif
$(BENCH_FLAGS_STAMP):
	@mkdir -p $(BB)
	echo '$(BENCH_FLAGS_LINE)' > $@

# ---- native objects: one compiler, one set of flags -------------------------------
$(BB)/faust/%.o: $(BB)/faust/%.c tests/bench/faust_wrap.c tests/bench/faust_ops.h tests/bench/amp_faust.h $(BENCH_FLAGS_STAMP)
	$(BENCH_CC) $(BENCH_CFLAGS) -I. -Itests/bench -DFAUST_FILE='"$<"' -DFAUST_CLASS=$* \
	    -c -o $@ tests/bench/faust_wrap.c

$(patsubst %.c,%.o,$(BENCH_OUR_C)): %.o: %.c $(BENCH_HDRS) $(BENCH_FLAGS_STAMP)
	$(BENCH_CC) $(BENCH_CFLAGS) $(RUNTIME_INCLUDES) -c -o $@ $<

# the scalar twin, its descriptor renamed so that both link into one driver
$(BB)/synthbench_scalar.o: $(BB)/synthbench_scalar.c $(BENCH_HDRS) $(BENCH_FLAGS_STAMP)
	$(BENCH_CC) $(BENCH_CFLAGS) $(RUNTIME_INCLUDES) -Damp_synthbench_desc=amp_synthbench_scalar_desc -c -o $@ $<

$(BB)/rt/%.o: runtime/%.c $(BENCH_HDRS) $(BENCH_FLAGS_STAMP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) $(RUNTIME_INCLUDES) -c -o $@ $<

$(BB)/cases.o: tests/bench/cases.c tests/bench/cases.h $(BENCH_HDRS) $(BENCH_FLAGS_STAMP)
	@mkdir -p $(BB)
	$(BENCH_CC) $(BENCH_CFLAGS) $(RUNTIME_INCLUDES) -DBENCH_HAVE_SCALAR -c -o $@ $<

$(BB)/bench.o: tests/bench/bench.c tests/bench/cases.h tests/bench/faust_ops.h $(BENCH_HDRS) $(BENCH_FLAGS_STAMP) | $(B)/gen/parse.h
	@mkdir -p $(BB)
	$(BENCH_CC) $(BENCH_CFLAGS) -Wall -Wextra $(RUNTIME_INCLUDES) -Ilang -Icompiler -Itests/bench -c -o $@ $<

$(BB)/bench: $(BENCH_NATIVE_OBJS) $(COMPILER_LIBS)
	$(BENCH_CC) -o $@ $(BENCH_NATIVE_OBJS) $(COMPILER_LIBS) -ljansson -lm

# ---- WebAssembly: the same cases and patches, emcc -----------------------------------
BENCH_WASM_SRCS := tests/bench/wasm_main.c tests/bench/cases.c $(BENCH_RT_SRCS) $(BENCH_OUR_C)
$(BB)/bench_wasm.js: $(BENCH_WASM_SRCS) tests/bench/cases.h $(BENCH_HDRS) $(BENCH_FLAGS_STAMP) | $(DEPS_STAMP)
	$(BENCH_EMENV) $(BENCH_EMCC) $(BENCH_EMFLAGS) -std=c11 -D_GNU_SOURCE $(RUNTIME_INCLUDES) -Itests/bench \
	    -sMODULARIZE=1 -sEXPORT_NAME=createBench -sENVIRONMENT=node -sALLOW_MEMORY_GROWTH=1 \
	    -sEXPORTED_FUNCTIONS=_wb_open,_wb_clock,_wb_prepare,_wb_run,_wb_rms \
	    -o $@ $(BENCH_WASM_SRCS) -lm

# ---- make bench-editor, make bench-latency (not in make test, not in make bench) --------
# Issue 12's benchmark: edit-to-sound in the patch editor page (cold and
# warm compile cache), the worker's diagnostics, the module's size, and
# `faust -lang wasm` on the same program (tests/bench/editor_bench.{amp,dsp}).
# Issue 15's latency: a key press to the first rendered and heard frame, with
# the AudioContext's baseLatency and outputLatency. Headless Chromium
# (tests/bench/editor_bench.mjs); each writes its own section of
# BENCHMARKS.md (run after `make bench`, which rewrites the file).
# BENCH_EDITOR_ARGS=--runs N.
.PHONY: bench-editor bench-latency
bench-editor: web $(B)/ampd $(B)/ampc
	B=$(B) $(NODE) tests/bench/editor_bench.mjs editor --write $(BENCH_EDITOR_ARGS)
bench-latency: web $(B)/ampd
	B=$(B) $(NODE) tests/bench/editor_bench.mjs latency --write $(BENCH_EDITOR_ARGS)

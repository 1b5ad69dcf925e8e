# tests/fuzz.mk — the fuzzers: the libFuzzer harness of the compiler
# (tests/fuzz_compiler.c, first), the library's nodes and patches driven to
# their extremes (tests/fuzz_nodes.c) and the libFuzzer harness of the
# engine's command stream (tests/fuzz_engine.c), each further below.
#
# It rebuilds the objects of the compiler's libraries (every lang/*.c, the
# generated lexer and parser, every compiler/*.c but main.c) with clang under
# ASan + UBSan + libFuzzer's coverage into $(B)/fuzz/obj/, since the normal
# objects are gcc's without sanitizers, and links them with the harness into
# $(B)/fuzz/fuzz_compiler. Everything it writes stays under $(B)/fuzz/:
#   corpus/     the seed corpus, copied from the .amp files of the tree
#               (tests/fuzz_seeds.sh); rebuilt, never grown
#   work/       the corpus the fuzzer grows, kept from run to run
#   artifacts/  crash-*, leak-*, timeout-*, oom-* inputs libFuzzer saves
#   tmp/        fork mode's scratch (the long run)
#   *.log       the last run's output
#
#   make fuzz-smoke      60 s of fuzzing (a step of `make test`)
#   make fuzz-regress    every tests/fuzz_regress/* once (a step of `make test`)
#   make fuzz            FUZZ_SECONDS (default one hour) on FUZZ_JOBS processes
#
# A finding is made permanent by copying its artifact into tests/fuzz_regress/
# under a name that says what it triggers; fuzz-regress then keeps it fixed.

CLANG        ?= clang
FUZZ_SECONDS ?= 3600
FUZZ_JOBS    ?= 2
FUZZ_SMOKE_SECONDS ?= 60
# More libFuzzer flags for a run, e.g. FUZZ_EXTRA='-only_ascii=1 -use_value_profile=1'
FUZZ_EXTRA ?=

FUZZ_DIR  := $(B)/fuzz
FUZZ_BIN  := $(FUZZ_DIR)/fuzz_compiler
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -O2,$(CFLAGS_COMMON)) -O1 $(FUZZ_SAN)
FUZZ_SRCS := $(sort $(wildcard lang/*.c)) $(sort $(filter-out compiler/main.c,$(wildcard compiler/*.c))) \
             runtime/formats/json_write.c runtime/formats/wav.c
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRCS)) $(FUZZ_DIR)/obj/gen/lex.o $(FUZZ_DIR)/obj/gen/parse.o

# Runtime options: stack traces from UBSan, leaks reported (the default,
# said here because a leak must fail the run).
FUZZ_ENV  := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_FLAGS := -max_len=8192 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz.dict \
              -artifact_prefix=$(FUZZ_DIR)/artifacts/ -print_final_stats=1 $(FUZZ_EXTRA)

$(FUZZ_DIR)/obj/lang/%.o: lang/%.c | $(B)/gen/parse.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/obj/compiler/%.o: compiler/%.c | $(B)/gen/parse.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/obj/runtime/%.o: runtime/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/obj/gen/%.o: $(B)/gen/%.c | $(B)/gen/parse.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) $(LANG_GEN_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/obj/tests/fuzz_compiler.o: tests/fuzz_compiler.c | $(B)/gen/parse.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@ $<

$(FUZZ_BIN): $(FUZZ_DIR)/obj/tests/fuzz_compiler.o $(FUZZ_OBJS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -ljansson $(LDLIBS)

# The seed corpus. The folders are prerequisites too, so that removing a
# file (which changes its folder's time) rebuilds it.
FUZZ_SEED_DIRS  := lang/examples nodes nodes/std tests/diag
FUZZ_SEED_FILES := $(wildcard $(addsuffix /*.amp,$(FUZZ_SEED_DIRS)))
$(FUZZ_DIR)/corpus.stamp: tests/fuzz_seeds.sh $(FUZZ_SEED_FILES) $(wildcard $(FUZZ_SEED_DIRS))
	@sh tests/fuzz_seeds.sh $(FUZZ_DIR)/corpus $(FUZZ_SEED_FILES)
	@touch $@

# The closing line, from libFuzzer's final stats (-print_final_stats=1)
# and its last status line (`#N ... cov: C ft: F corp: U/S ...`).
FUZZ_SUMMARY := awk '/^stat::number_of_executed_units:/ { runs = $$2 } \
    /^stat::average_exec_per_sec:/ { rate = $$2 } \
    / cov: [0-9]+ / { for (i = 1; i < NF; i++) { if ($$i == "cov:") cov = $$(i + 1); \
                                                if ($$i == "ft:") ft = $$(i + 1); \
                                                if ($$i == "corp:") corp = $$(i + 1) } } \
    END { printf "%d runs (%d/s), cov: %d ft: %d corpus: %s, 0 crashes\n", runs, rate, cov, ft, corp }'

.PHONY: fuzz fuzz-smoke fuzz-regress
TEST_STEPS += fuzz-smoke fuzz-regress

# New inputs go to work/ (the first folder); corpus/ is only read.
fuzz-smoke: $(FUZZ_BIN) $(FUZZ_DIR)/corpus.stamp
	@mkdir -p $(FUZZ_DIR)/work $(FUZZ_DIR)/artifacts
	@echo "fuzz-smoke: $(FUZZ_SMOKE_SECONDS) s of $(FUZZ_BIN), log in $(FUZZ_DIR)/smoke.log"
	@if $(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SMOKE_SECONDS) \
	        $(FUZZ_DIR)/work $(FUZZ_DIR)/corpus > $(FUZZ_DIR)/smoke.log 2>&1; then \
	    printf 'fuzz-smoke: '; $(FUZZ_SUMMARY) $(FUZZ_DIR)/smoke.log; \
	else \
	    tail -n 60 $(FUZZ_DIR)/smoke.log; \
	    echo "fuzz-smoke: FAILED; the input is in $(FUZZ_DIR)/artifacts/ (see 'Test unit written to' above)"; \
	    exit 1; \
	fi

# Each reproducer runs in its own process so that one failure does not
# hide the others. An empty folder passes.
fuzz-regress: $(FUZZ_BIN)
	@n=0; failed=""; \
	for f in tests/fuzz_regress/*; do \
	    [ -f "$$f" ] || continue; n=$$((n + 1)); \
	    if ! $(FUZZ_ENV) $(FUZZ_BIN) -timeout=10 -rss_limit_mb=2048 "$$f" > $(FUZZ_DIR)/regress.log 2>&1; then \
	        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' $(FUZZ_DIR)/regress.log | head -n 3; \
	        failed="$$failed $$f"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-regress: FAILED:$$failed"; exit 1; fi; \
	echo "fuzz-regress: $$n reproducers, all pass"

# The long run: libFuzzer's fork mode, FUZZ_JOBS processes, going on past
# crashes, timeouts and OOMs (each is saved in artifacts/) so that one run
# finds more than one; fails at the end if it found any. Fork mode keeps its
# scratch files in TMPDIR, here under $(FUZZ_DIR).
fuzz: $(FUZZ_BIN) $(FUZZ_DIR)/corpus.stamp
	@mkdir -p $(FUZZ_DIR)/work $(FUZZ_DIR)/artifacts $(FUZZ_DIR)/tmp
	@echo "fuzz: $(FUZZ_SECONDS) s on $(FUZZ_JOBS) processes, log in $(FUZZ_DIR)/fuzz.log"
	@before=$$(ls $(FUZZ_DIR)/artifacts | wc -l); \
	TMPDIR=$(FUZZ_DIR)/tmp $(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -fork=$(FUZZ_JOBS) -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	    $(FUZZ_DIR)/work $(FUZZ_DIR)/corpus > $(FUZZ_DIR)/fuzz.log 2>&1; rc=$$?; \
	found=$$(($$(ls $(FUZZ_DIR)/artifacts | wc -l) - before)); \
	awk '/^#[0-9]+: cov: / { line = $$0 } END { print line }' $(FUZZ_DIR)/fuzz.log | \
	    awk -v found=$$found '{ sub(/^#/, "", $$1); sub(/:$$/, "", $$1); \
	        for (i = 1; i < NF; i++) { if ($$i == "cov:") cov = $$(i + 1); if ($$i == "exec/s") rate = $$(i + 1); \
	                                   if ($$i == "oom/timeout/crash:") bad = $$(i + 1) } \
	        printf "fuzz: %s runs (%s/s), cov: %s, oom/timeout/crash %s, %d new artifacts\n", $$1, rate, cov, bad, found }'; \
	if [ $$rc -ne 0 ] || [ $$found -ne 0 ]; then \
	    echo "fuzz: FAILED (exit $$rc); see $(FUZZ_DIR)/fuzz.log and $(FUZZ_DIR)/artifacts/"; exit 1; fi

# ---- the library's nodes and patches, driven to their extremes -------------
# tests/fuzz_nodes.c: every unit of nodes/*.amp and nodes/std/*.amp, and
# random valid patches made of the std nodes, at every supported rate
# (8, 22.05, 44.1, 48, 96 and 192 kHz), with param jumps and glides inside,
# at and beyond their ranges, note storms and extreme inputs; fails on a
# non-finite sample, a denormal, a sample above +24 dBFS, a runaway. Builds
# are cached in $(FUZZ_NODES_DIR)/cache.
#
#   make fuzz-nodes        the short pass (a step of `make test`)
#   make fuzz-nodes-long   rounds of longer cases (3 s of drive) for
#                          FUZZ_NODES_SECONDS (default 600, after the builds)
#                          with FUZZ_NODES_RANDOM (default 200) random patches
# FUZZ_NODES_SEED picks the run (default: 1 for the short pass, the time
# for the long one); a failure prints the command that re-runs its case.
FUZZ_NODES_DIR     := $(B)/fuzz-nodes
FUZZ_NODES_BIN     := $(B)/tests/fuzz_nodes
FUZZ_NODES_SECONDS ?= 600
FUZZ_NODES_RANDOM  ?= 200
FUZZ_NODES_SEED    ?=
FUZZ_NODES_ENV     := AMP_CACHE=$(FUZZ_NODES_DIR)/cache

$(FUZZ_NODES_BIN): tests/fuzz_nodes.c $(RUNTIME_LIBS) $(COMPILER_LIBS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(RUNTIME_LIBS) $(COMPILER_LIBS) -ljansson -ldl -lm

.PHONY: fuzz-nodes fuzz-nodes-long
TEST_STEPS += fuzz-nodes
fuzz-nodes: $(FUZZ_NODES_BIN)
	@mkdir -p $(FUZZ_NODES_DIR)
	@$(FUZZ_NODES_ENV) $(FUZZ_NODES_BIN) --seed $(or $(FUZZ_NODES_SEED),1) --cases 1 --length 0.4 --random 6

fuzz-nodes-long: $(FUZZ_NODES_BIN)
	@mkdir -p $(FUZZ_NODES_DIR)
	@$(FUZZ_NODES_ENV) $(FUZZ_NODES_BIN) --seed $(or $(FUZZ_NODES_SEED),$(shell date +%s)) \
	    --seconds $(FUZZ_NODES_SECONDS) --length 3 --random $(FUZZ_NODES_RANDOM)

# ---- the engine's command stream --------------------------------------------
# tests/fuzz_engine.c: random command streams (commands.def records with
# fields at, inside and beyond their ranges, huge and non-finite floats, raw
# bytes) through the command ring into a fresh engine at a supported rate,
# with hand-written hostile patches and nodes/pad.amp + nodes/stereo_delay.amp
# as ampc emits them; the master must stay finite and within the engine's
# safety limit. The engine's objects are rebuilt with clang under ASan +
# UBSan + libFuzzer coverage, like the compiler's above.
#
#   make fuzz-engine-smoke    FUZZ_ENGINE_SMOKE_SECONDS (default 20) and every
#                             tests/fuzz_regress/engine/* once (a step of `make test`)
#   make fuzz-engine          FUZZ_ENGINE_SECONDS (default one hour) on FUZZ_JOBS processes
# Its files are under $(FUZZ_DIR)/engine/ (work/, artifacts/, *.log); a
# finding is kept by copying its artifact into tests/fuzz_regress/engine/.
FUZZ_ENGINE_SECONDS       ?= 3600
FUZZ_ENGINE_SMOKE_SECONDS ?= 20
FUZZ_ENGINE_DIR   := $(FUZZ_DIR)/engine
FUZZ_ENGINE_BIN   := $(FUZZ_ENGINE_DIR)/fuzz_engine
FUZZ_ENGINE_UNITS := pad stereo_delay
FUZZ_ENGINE_SRCS  := $(sort $(wildcard runtime/engine/*.c))
FUZZ_ENGINE_OBJS  := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_ENGINE_SRCS)) \
                     $(patsubst %,$(FUZZ_ENGINE_DIR)/patches/%.o,$(FUZZ_ENGINE_UNITS))
FUZZ_ENGINE_FLAGS := -max_len=4096 -timeout=30 -rss_limit_mb=2048 \
                     -artifact_prefix=$(FUZZ_ENGINE_DIR)/artifacts/ -print_final_stats=1 $(FUZZ_EXTRA)

# The library's patches as ampc emits them, compiled into the harness.
.PRECIOUS: $(FUZZ_ENGINE_DIR)/patches/%.c
$(FUZZ_ENGINE_DIR)/patches/%.c: nodes/%.amp $(wildcard nodes/std/*.amp) $(B)/ampc
	@mkdir -p $(dir $@)
	$(B)/ampc $< -o $(dir $@)
$(FUZZ_ENGINE_DIR)/patches/%.o: $(FUZZ_ENGINE_DIR)/patches/%.c
	$(CLANG) -Iruntime/abi $(FUZZ_CFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_ENGINE_DIR)/fuzz_engine.o: tests/fuzz_engine.c tests/fixtures/engine_patches.c tests/fixtures/fixture_poly.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@ $<

$(FUZZ_ENGINE_BIN): $(FUZZ_ENGINE_DIR)/fuzz_engine.o $(FUZZ_ENGINE_OBJS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

.PHONY: fuzz-engine fuzz-engine-smoke
TEST_STEPS += fuzz-engine-smoke
fuzz-engine-smoke: $(FUZZ_ENGINE_BIN)
	@mkdir -p $(FUZZ_ENGINE_DIR)/work $(FUZZ_ENGINE_DIR)/artifacts
	@n=0; for f in tests/fuzz_regress/engine/*; do \
	    [ -f "$$f" ] || continue; n=$$((n + 1)); \
	    $(FUZZ_ENV) $(FUZZ_ENGINE_BIN) -timeout=30 "$$f" > $(FUZZ_ENGINE_DIR)/regress.log 2>&1 || \
	        { tail -n 30 $(FUZZ_ENGINE_DIR)/regress.log; echo "fuzz-engine: FAILED on $$f"; exit 1; }; \
	done; \
	start=$$(date +%s); \
	if $(FUZZ_ENV) $(FUZZ_ENGINE_BIN) $(FUZZ_ENGINE_FLAGS) -max_total_time=$(FUZZ_ENGINE_SMOKE_SECONDS) \
	        $(FUZZ_ENGINE_DIR)/work > $(FUZZ_ENGINE_DIR)/smoke.log 2>&1; then \
	    printf "fuzz-engine-smoke: $$n reproducers pass; "; $(FUZZ_SUMMARY) $(FUZZ_ENGINE_DIR)/smoke.log | tr -d '\n'; \
	    echo ", $$(( $$(date +%s) - start )) s"; \
	else \
	    tail -n 60 $(FUZZ_ENGINE_DIR)/smoke.log; \
	    echo "fuzz-engine-smoke: FAILED; the input is in $(FUZZ_ENGINE_DIR)/artifacts/ (see 'Test unit written to' above)"; \
	    exit 1; \
	fi

fuzz-engine: $(FUZZ_ENGINE_BIN)
	@mkdir -p $(FUZZ_ENGINE_DIR)/work $(FUZZ_ENGINE_DIR)/artifacts $(FUZZ_ENGINE_DIR)/tmp
	@echo "fuzz-engine: $(FUZZ_ENGINE_SECONDS) s on $(FUZZ_JOBS) processes, log in $(FUZZ_ENGINE_DIR)/fuzz.log"
	@before=$$(ls $(FUZZ_ENGINE_DIR)/artifacts | wc -l); \
	TMPDIR=$(FUZZ_ENGINE_DIR)/tmp $(FUZZ_ENV) $(FUZZ_ENGINE_BIN) $(FUZZ_ENGINE_FLAGS) \
	    -max_total_time=$(FUZZ_ENGINE_SECONDS) -fork=$(FUZZ_JOBS) -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	    $(FUZZ_ENGINE_DIR)/work > $(FUZZ_ENGINE_DIR)/fuzz.log 2>&1; rc=$$?; \
	found=$$(($$(ls $(FUZZ_ENGINE_DIR)/artifacts | wc -l) - before)); \
	tail -n 3 $(FUZZ_ENGINE_DIR)/fuzz.log; \
	if [ $$rc -ne 0 ] || [ $$found -ne 0 ]; then \
	    echo "fuzz-engine: FAILED (exit $$rc, $$found new artifacts); see $(FUZZ_ENGINE_DIR)/fuzz.log"; exit 1; fi; \
	echo "fuzz-engine: no findings"

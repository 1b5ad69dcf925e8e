# runtime/layout.mk — the shared-memory layout schema: its TypeScript view
# and the test that C and TypeScript agree on it.
#
# Included from runtime/runtime.mk. runtime/layout.def is the one schema of
# the state region, the ring header and the event records; runtime/layout.h
# expands it into the C structs and their static asserts at compile time
# (nothing C is generated). runtime/gen_layout, built for the build
# machine, prints $(B)/gen/web/layout.ts (the web app imports it as
# '@amp/gen/layout') and $(B)/gen/web/layout.json (the same numbers, for
# tests/web); `make` builds both.
#
# `make test-layout`, a step of `make test`, prints every offset, size,
# field type and constant as the C compiler laid out the real structs
# (gen_layout --offsets), natively and in wasm32 (gen_layout.c built with
# emscripten and run by node), and compares each list with the same names
# read from the compiled layout.ts by tests/layout_check.ts (built with tsc
# under the strict web/tsconfig.json, as test-commands-ts builds its test);
# layout_check also checks that layout.json holds the module's numbers.
# One differing line fails the step.

LAYOUT_GEN    := $(B)/runtime/gen_layout
LAYOUT_TS     := $(B)/gen/web/layout.ts
LAYOUT_JSON   := $(B)/gen/web/layout.json
LAYOUT_WASM   := $(B)/layout/gen_layout.js
LAYOUT_TS_DIR := $(B)/ts-layout
LAYOUT_SRCS   := runtime/gen_layout.c runtime/layout.def runtime/layout.h runtime/engine.h \
                 runtime/ring.h runtime/amp_patch.h
EMCC ?= emcc
NODE ?= node
TSC ?= node web/node_modules/typescript/bin/tsc

# HOSTCC comes from runtime.mk (read later, used when the recipe runs).
$(LAYOUT_GEN): $(LAYOUT_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) -Iruntime -o $@ runtime/gen_layout.c

# Through a temporary file, so that a failing generator leaves no half module.
$(LAYOUT_TS): $(LAYOUT_GEN)
	@mkdir -p $(dir $@)
	$(LAYOUT_GEN) > $@.tmp
	@mv $@.tmp $@

$(LAYOUT_JSON): $(LAYOUT_GEN)
	@mkdir -p $(dir $@)
	$(LAYOUT_GEN) --json > $@.tmp
	@mv $@.tmp $@

all: $(LAYOUT_TS) $(LAYOUT_JSON)

# The same program in wasm32, the engine's target. Synchronous
# instantiation: this emscripten's asynchronous loader fetch()es the .wasm,
# which node's fetch cannot do from a file path.
$(LAYOUT_WASM): $(LAYOUT_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	NODE_PATH=$${NODE_PATH:-/usr/share/nodejs} $(EMCC) -std=c11 -O1 -Wall -Wextra -Iruntime \
	    -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0 -o $@ runtime/gen_layout.c

# The test beside a copy of the generated module, as in commands.mk.
$(LAYOUT_TS_DIR)/out/layout_check.js: $(LAYOUT_TS) tests/layout_check.ts web/tsconfig.json $(B)/.npm-ok
	@rm -rf $(LAYOUT_TS_DIR) && mkdir -p $(LAYOUT_TS_DIR)/src
	@cp $(LAYOUT_TS) $(LAYOUT_TS_DIR)/src/layout.ts
	@cp tests/layout_check.ts $(LAYOUT_TS_DIR)/src/layout_check.ts
	@printf '{ "type": "module" }\n' > $(LAYOUT_TS_DIR)/package.json
	@printf '{\n  "extends": "%s",\n  "compilerOptions": {\n    "module": "NodeNext",\n    "moduleResolution": "NodeNext",\n    "noEmit": false,\n    "rootDir": "src",\n    "outDir": "out"\n  },\n  "include": [],\n  "files": ["src/layout.ts", "src/layout_check.ts"]\n}\n' \
	    "$$(realpath -m --relative-to=$(LAYOUT_TS_DIR) web/tsconfig.json)" > $(LAYOUT_TS_DIR)/tsconfig.json
	$(TSC) -p $(LAYOUT_TS_DIR)/tsconfig.json

TEST_STEPS += test-layout
.PHONY: test-layout
test-layout: $(LAYOUT_GEN) $(LAYOUT_WASM) $(LAYOUT_JSON) $(LAYOUT_TS_DIR)/out/layout_check.js
	@start=$$(date +%s%N); d=$(LAYOUT_TS_DIR); \
	$(LAYOUT_GEN) --offsets > $$d/c-native.raw && \
	$(NODE) $(LAYOUT_WASM) --offsets > $$d/c-wasm32.raw && \
	$(NODE) $$d/out/layout_check.js $(LAYOUT_JSON) > $$d/ts.raw && \
	for f in c-native c-wasm32 ts; do LC_ALL=C sort $$d/$$f.raw > $$d/$$f.txt || exit 1; done && \
	test -s $$d/ts.txt && \
	diff -u --label 'C (native)' --label 'TypeScript' $$d/c-native.txt $$d/ts.txt && \
	diff -u --label 'C (wasm32)' --label 'TypeScript' $$d/c-wasm32.txt $$d/ts.txt && \
	echo "test-layout: C (native and wasm32) and layout.ts agree on $$(wc -l < $$d/ts.txt) offsets, sizes, types and constants ($$(( ($$(date +%s%N) - start) / 1000000 )) ms)"

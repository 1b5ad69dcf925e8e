# runtime/gen/gen.mk — the code generators, built for the build machine
# (HOSTCC), whatever CC targets, and what they generate under $(B)/gen/:
#
#   embed            the headers a compiled patch includes (runtime/abi/),
#                    embedded into the tools so that build.c can write them
#                    beside the C it compiles -> $(B)/gen/embedded_headers.c
#   gen_commands_ts  the command schema (runtime/engine/commands.def) as
#                    the UI's TypeScript encoder -> $(B)/gen/web/commands.ts
#   gen_layout       the shared-memory layout schema (runtime/engine/
#                    layout.def: the state region, the ring header, the
#                    event records) as TypeScript -> $(B)/gen/web/layout.ts,
#                    and the same numbers for the browser tests ->
#                    $(B)/gen/web/layout.json; runtime/engine/layout.h
#                    expands the same .def into the C structs and their
#                    static asserts at compile time (nothing C is generated)
#
# `make test-commands-ts`, a step of `make test`, proves that the generated
# encoder and the C decoder agree byte for byte: check_commands writes its
# test vectors as JSON, tests/commands_roundtrip.ts (compiled with tsc from
# web/node_modules under the strict web/tsconfig.json, into $(B)/ts/)
# encodes each one, and check_commands compares every record with
# cmd_encode and decodes every field. tsc reports errors in the copies it
# compiles, $(B)/ts/src/: fix them in tests/commands_roundtrip.ts or
# runtime/engine/commands.def. npm reaches only the npm registry (npm ci
# installs exactly web/package-lock.json).
#
# `make test-layout`, a step of `make test`, prints every offset, size,
# field type and constant as the C compiler laid out the real structs
# (gen_layout --offsets), natively and in wasm32 (gen_layout.c built with
# emscripten and run by node), and compares each list with the same names
# read from the compiled layout.ts by tests/layout_check.ts (built with tsc
# under the strict web/tsconfig.json, as test-commands-ts builds its test);
# layout_check also checks that layout.json holds the module's numbers.
# One differing line fails the step.

HOSTCC ?= cc

# ---- embedded patch headers ------------------------------------------------
EMBED_HEADERS := runtime/abi/amp_patch.h runtime/abi/amp_dsp.h runtime/abi/amp_math.h runtime/abi/amp_oversample.h

$(B)/runtime/gen/embed: runtime/gen/embed.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) -o $@ $<

$(B)/gen/embedded_headers.c: $(B)/runtime/gen/embed $(EMBED_HEADERS)
	@mkdir -p $(dir $@)
	$(B)/runtime/gen/embed $@ $(EMBED_HEADERS)

$(B)/runtime/gen/embedded_headers.o: $(B)/gen/embedded_headers.c runtime/tools/build.h runtime/abi/amp_patch.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# ---- the TypeScript command encoder ------------------------------------------
COMMANDS_GEN    := $(B)/runtime/gen/gen_commands_ts
COMMANDS_TS     := $(B)/gen/web/commands.ts
COMMANDS_TS_DIR := $(B)/ts
NPM ?= npm
TSC ?= node web/node_modules/typescript/bin/tsc

# A test in TypeScript beside a copy of a generated module, compiled for
# node: $(call ts_node_test,DIR,GENERATED,MODULE_NAME,TEST,TEST_NAME) puts
# both in DIR/src, so that the test's `import './MODULE.js'` holds
# wherever $(B) is, and compiles them into DIR/out with a tsconfig that
# extends web/tsconfig.json (by a relative path) for the strict options and
# only switches to node's module system and emitting.
define ts_node_test
@rm -rf $(1) && mkdir -p $(1)/src
@cp $(2) $(1)/src/$(3)
@cp $(4) $(1)/src/$(5)
@printf '{ "type": "module" }\n' > $(1)/package.json
@printf '{\n  "extends": "%s",\n  "compilerOptions": {\n    "module": "NodeNext",\n    "moduleResolution": "NodeNext",\n    "noEmit": false,\n    "rootDir": "src",\n    "outDir": "out"\n  },\n  "include": [],\n  "files": ["src/$(3)", "src/$(5)"]\n}\n' \
    "$$(realpath -m --relative-to=$(1) web/tsconfig.json)" > $(1)/tsconfig.json
$(TSC) -p $(1)/tsconfig.json
endef

$(COMMANDS_GEN): runtime/gen/gen_commands_ts.c runtime/engine/commands.c runtime/engine/commands.h \
                 runtime/engine/commands.def runtime/engine/pool.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) -Iruntime/engine -o $@ runtime/gen/gen_commands_ts.c runtime/engine/commands.c -lm

# Through a temporary file, so that a failing generator leaves no half module.
$(COMMANDS_TS): $(COMMANDS_GEN)
	@mkdir -p $(dir $@)
	$(COMMANDS_GEN) > $@.tmp
	@mv $@.tmp $@

all: $(COMMANDS_TS)

# The web app's npm packages, exactly as locked.
$(B)/.npm-ok: web/package.json web/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "npm not found: install Node.js 20 and npm"; exit 1; }
	cd web && $(NPM) ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
	@mkdir -p $(B) && touch $@

# The round trip's test beside the generated encoder (ts_node_test above).
$(COMMANDS_TS_DIR)/out/commands_roundtrip.js: $(COMMANDS_TS) tests/commands_roundtrip.ts \
                                              web/tsconfig.json $(B)/.npm-ok
	$(call ts_node_test,$(COMMANDS_TS_DIR),$(COMMANDS_TS),commands.ts,tests/commands_roundtrip.ts,commands_roundtrip.ts)

TEST_STEPS += test-commands-ts
.PHONY: test-commands-ts
test-commands-ts: $(B)/tests/check_commands $(COMMANDS_TS_DIR)/out/commands_roundtrip.js
	@$(B)/tests/check_commands --write-vectors $(COMMANDS_TS_DIR)/vectors.json
	@node $(COMMANDS_TS_DIR)/out/commands_roundtrip.js $(COMMANDS_TS_DIR)/vectors.json $(COMMANDS_TS_DIR)/records.bin
	@$(B)/tests/check_commands --check-encoded $(COMMANDS_TS_DIR)/records.bin

# ---- the shared-memory layout ----------------------------------------------
LAYOUT_GEN    := $(B)/runtime/gen/gen_layout
LAYOUT_TS     := $(B)/gen/web/layout.ts
LAYOUT_JSON   := $(B)/gen/web/layout.json
LAYOUT_WASM   := $(B)/layout/gen_layout.js
LAYOUT_TS_DIR := $(B)/ts-layout
LAYOUT_SRCS   := runtime/gen/gen_layout.c runtime/engine/layout.def runtime/engine/layout.h \
                 runtime/engine/engine.h runtime/engine/ring.h runtime/abi/amp_patch.h
EMCC ?= emcc
NODE ?= node

$(LAYOUT_GEN): $(LAYOUT_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) $(RUNTIME_INCLUDES) -o $@ runtime/gen/gen_layout.c

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
	NODE_PATH=$${NODE_PATH:-/usr/share/nodejs} $(EMCC) -std=c11 -O1 -Wall -Wextra $(RUNTIME_INCLUDES) \
	    -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0 -o $@ runtime/gen/gen_layout.c

# The test beside a copy of the generated module, as for the commands.
$(LAYOUT_TS_DIR)/out/layout_check.js: $(LAYOUT_TS) tests/layout_check.ts web/tsconfig.json $(B)/.npm-ok
	$(call ts_node_test,$(LAYOUT_TS_DIR),$(LAYOUT_TS),layout.ts,tests/layout_check.ts,layout_check.ts)

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

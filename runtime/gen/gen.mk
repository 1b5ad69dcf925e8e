# runtime/gen/gen.mk — the code generators, built for the build machine
# (HOSTCC), whatever CC targets, and what they generate under $(B)/gen/:
#
#   embed            the headers a compiled patch includes (runtime/abi/),
#                    embedded into the tools so that build.c can write them
#                    beside the C it compiles -> $(B)/gen/embedded_headers.c
#   gen_commands_ts  the command schema (runtime/engine/commands.def) as
#                    the UI's TypeScript encoder -> $(B)/gen/web/commands.ts
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

HOSTCC ?= cc

# ---- embedded patch headers ------------------------------------------------
EMBED_HEADERS := runtime/abi/amp_patch.h runtime/abi/amp_dsp.h runtime/abi/amp_math.h

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

# The test and a copy of the generated module side by side, so that the
# test's `import './commands.js'` holds wherever $(B) is; the tsconfig
# here extends web/tsconfig.json (by a relative path) for the strict
# options and only switches to node's module system and emitting.
$(COMMANDS_TS_DIR)/out/commands_roundtrip.js: $(COMMANDS_TS) tests/commands_roundtrip.ts \
                                              web/tsconfig.json $(B)/.npm-ok
	@rm -rf $(COMMANDS_TS_DIR) && mkdir -p $(COMMANDS_TS_DIR)/src
	@cp $(COMMANDS_TS) $(COMMANDS_TS_DIR)/src/commands.ts
	@cp tests/commands_roundtrip.ts $(COMMANDS_TS_DIR)/src/commands_roundtrip.ts
	@printf '{ "type": "module" }\n' > $(COMMANDS_TS_DIR)/package.json
	@printf '{\n  "extends": "%s",\n  "compilerOptions": {\n    "module": "NodeNext",\n    "moduleResolution": "NodeNext",\n    "noEmit": false,\n    "rootDir": "src",\n    "outDir": "out"\n  },\n  "include": [],\n  "files": ["src/commands.ts", "src/commands_roundtrip.ts"]\n}\n' \
	    "$$(realpath -m --relative-to=$(COMMANDS_TS_DIR) web/tsconfig.json)" > $(COMMANDS_TS_DIR)/tsconfig.json
	$(TSC) -p $(COMMANDS_TS_DIR)/tsconfig.json

TEST_STEPS += test-commands-ts
.PHONY: test-commands-ts
test-commands-ts: $(B)/tests/check_commands $(COMMANDS_TS_DIR)/out/commands_roundtrip.js
	@$(B)/tests/check_commands --write-vectors $(COMMANDS_TS_DIR)/vectors.json
	@node $(COMMANDS_TS_DIR)/out/commands_roundtrip.js $(COMMANDS_TS_DIR)/vectors.json $(COMMANDS_TS_DIR)/records.bin
	@$(B)/tests/check_commands --check-encoded $(COMMANDS_TS_DIR)/records.bin

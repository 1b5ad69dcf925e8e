# runtime/commands.mk — the command schema: the C codec and the generated
# TypeScript encoder.
#
# Included from runtime/runtime.mk, after `-include runtime/ring.mk` and
# before the $(B)/libamprt.a rule: make expands a rule's prerequisites when
# it reads the rule, so RUNTIME_OBJS must be complete by then.
#
# runtime/commands.def is the one schema. runtime/commands.c (encode,
# decode, validate; expanded from the .def at compile time, so nothing C is
# generated) goes into libamprt.a. runtime/gen_commands_ts, built for the
# build machine, prints $(B)/gen/web/commands.ts, the UI's encoder; `make`
# builds it.
#
# `make test-commands-ts`, a step of `make test`, proves that the generated
# encoder and the C decoder agree byte for byte: check_commands writes its
# test vectors as JSON, tests/commands_roundtrip.ts (compiled with tsc from
# web/node_modules under the strict web/tsconfig.json, into $(B)/ts/)
# encodes each one, and check_commands compares every record with
# cmd_encode and decodes every field. tsc reports errors in the copies it
# compiles, $(B)/ts/src/: fix them in tests/commands_roundtrip.ts or
# runtime/commands.def. npm reaches only the npm registry (npm ci installs
# exactly web/package-lock.json).

RUNTIME_OBJS += $(B)/runtime/commands.o

COMMANDS_GEN    := $(B)/runtime/gen_commands_ts
COMMANDS_TS     := $(B)/gen/web/commands.ts
COMMANDS_TS_DIR := $(B)/ts
NPM ?= npm
TSC ?= node web/node_modules/typescript/bin/tsc

# HOSTCC comes from runtime.mk (read later, used when the recipe runs).
$(COMMANDS_GEN): runtime/gen_commands_ts.c runtime/commands.c runtime/commands.h \
                 runtime/commands.def runtime/pool.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) -Iruntime -o $@ runtime/gen_commands_ts.c runtime/commands.c -lm

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

# Amplitude — the one build. `make run` and `make test` do all the set-up.
#
# Each folder with code contributes one fragment (lang/lang.mk,
# compiler/compiler.mk, runtime/engine/engine.mk, runtime/formats/formats.mk,
# runtime/tools/tools.mk, runtime/gen/gen.mk, tests/tests.mk, ...) with its
# own object list and library; a fragment reads only the variables set here,
# never another fragment's, so the order of the includes does not matter.
# This file holds the shared flags, the libraries' link order, the
# dependency installer and the top-level targets. Everything generated goes
# under build/.

CC      ?= cc
B       := build
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -O2 -g -ffp-contract=off -fno-fast-math \
                 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= $(CFLAGS_COMMON)
# The runtime's folders (runtime/README.md): abi/ (the patch interface and
# math kernels), engine/ (the real-time core), formats/, tools/.
RUNTIME_INCLUDES := -Iruntime -Iruntime/abi -Iruntime/engine -Iruntime/formats -Iruntime/tools
CPPFLAGS += -Ilang -Icompiler $(RUNTIME_INCLUDES) -I$(B)/gen -MMD -MP
LDLIBS  += -lm

.PHONY: all deps run test bench fuzz clean
all: deps $(B)/ampc $(B)/amp

# ---- dependencies: install what is missing from Debian's packages --------
DEB_PACKAGES := re2c lemon faust emscripten binaryen libjansson-dev check pkg-config \
                libmicrohttpd-dev libsqlite3-dev libsodium-dev nettle-dev clang libclang-rt-14-dev chromium
DEPS_STAMP := $(B)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tests/install-deps.sh Makefile
	@sh tests/install-deps.sh $(DEB_PACKAGES)
	@mkdir -p $(B) && touch $@

# The libraries in link order: each uses only those after it (the
# runtime's tools -> formats -> engine; the compiler -> its front end ->
# formats, for json_write, with which it writes its metadata).
# A program that compiles patches links RUNTIME_LIBS, then COMPILER_LIBS.
RUNTIME_LIBS  := $(B)/libamptools.a $(B)/libampformats.a $(B)/libampengine.a
COMPILER_LIBS := $(B)/libampc.a $(B)/libamplang.a $(B)/libampformats.a

# One object rule for every runtime folder.
$(B)/runtime/%.o: runtime/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

include lang/lang.mk
include compiler/compiler.mk
include runtime/engine/engine.mk
include runtime/formats/formats.mk
include runtime/tools/tools.mk
include runtime/gen/gen.mk
include tests/tests.mk
-include tests/fuzz.mk
-include tests/bench/bench.mk
-include server/server.mk
-include web/web.mk

# make run: build everything (compiler, runtime, engine.wasm, the web app,
# ampd) and serve the app; AMPD_PORT picks the port. Projects are kept in
# $(B)/data (created on first start); --local makes this machine's browser
# the local user without signing in; --library nodes serves the repo's
# nodes/ as the read-only built-in patch library (server/README.md).
AMPD_PORT ?= 8080
run: all web $(B)/ampd
	$(B)/ampd --root $(B)/web --port $(AMPD_PORT) --data $(B)/data --local --library nodes

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

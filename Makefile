# Amplitude — the one build. `make run` and `make test` do all the set-up.
#
# Each folder contributes a fragment (lang/lang.mk, compiler/compiler.mk,
# runtime/runtime.mk, tests/tests.mk) with its explicit object list; this file
# holds the shared flags, the dependency installer and the top-level targets.
# Everything generated goes under build/.

CC      ?= cc
B       := build
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -O2 -g -ffp-contract=off -fno-fast-math \
                 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= $(CFLAGS_COMMON)
CPPFLAGS += -Ilang -Icompiler -Iruntime -I$(B)/gen -MMD -MP
LDLIBS  += -lm

.PHONY: all deps run test bench fuzz clean
all: deps $(B)/ampc $(B)/amp

# ---- dependencies: install what is missing from Debian's packages --------
DEB_PACKAGES := re2c lemon faust emscripten binaryen libjansson-dev check pkg-config \
                libmicrohttpd-dev libsqlite3-dev clang libclang-rt-14-dev
DEPS_STAMP := $(B)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tests/install-deps.sh
	@sh tests/install-deps.sh $(DEB_PACKAGES)
	@mkdir -p $(B) && touch $@

include lang/lang.mk
include compiler/compiler.mk
include runtime/runtime.mk
include tests/tests.mk
-include tests/fuzz.mk
-include tests/bench/bench.mk
-include server/server.mk
-include web/web.mk

run: all
	$(B)/amp render nodes/pad.amp --notes '60@0:1 64@0.5:1.5 67@1:2.5' --seconds 3.5 -o $(B)/pad.wav

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# tests/tests.mk — Check suites and the other test drivers.
#
# Every tests/check_<module>.c is a Check suite linked against both libraries;
# `make test` builds them all and runs each (CK_FORK on, so a crash in one
# test is reported, not fatal). Further test steps (golden files, fuzzing,
# sanitizer builds) hang off TEST_STEPS.

CHECK_SRCS := $(sort $(wildcard tests/check_*.c))
CHECK_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(CHECK_SRCS))
CHECK_LDLIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread) \
                -ljansson -ldl -lpthread -lm

$(B)/tests/check_%: tests/check_%.c tests/testutil.h $(RUNTIME_LIBS) $(COMPILER_LIBS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(RUNTIME_LIBS) $(COMPILER_LIBS) $(CHECK_LDLIBS)

# The malloc interposition of the no-allocation test.
$(B)/tests/check_engine_commands: tests/alloc_count.h

# Each step is a phony target that fails the run when its test fails.
TEST_STEPS += check-suites
.PHONY: check-suites
# Check's per-test timeouts are hang guards, never timing assertions: on a
# loaded 2-core machine they are stretched (CK_TIMEOUT_MULTIPLIER) rather
# than letting a slow moment fail the run.
check-suites: $(CHECK_BINS) $(B)/ampc $(B)/amp
	@set -e; for t in $(CHECK_BINS); do echo "== $$t"; CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4} $$t; done

test: deps
	@$(MAKE) --no-print-directory $(TEST_STEPS)

# No type name defined in two files (file-local types included).
TEST_STEPS += test-type-names
.PHONY: test-type-names
test-type-names:
	@sh tests/check_type_names.sh

# The run_nodes.sh measure of a rendered file: non-finite samples, peak.
$(B)/tests/wav_check: tests/wav_check.c $(B)/libampformats.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libampformats.a $(LDLIBS)

# Golden diagnostics, golden emitted C, and every node file built and rendered.
TEST_STEPS += test-diag test-golden test-nodes
.PHONY: test-diag test-golden test-nodes golden-update
test-diag: $(B)/ampc
	@sh tests/run_diag.sh $(B)/ampc
test-golden: $(B)/ampc
	@B=$(B) sh tests/run_golden.sh
test-nodes: $(B)/ampc $(B)/amp $(B)/tests/wav_check
	@B=$(B) sh tests/run_nodes.sh
golden-update: $(B)/ampc
	@B=$(B) sh tests/run_golden.sh --update

# Golden dumps of every compiler pass (ampc --dump PASS).
TEST_STEPS += test-dumps
.PHONY: test-dumps dumps-update
test-dumps: $(B)/ampc
	@B=$(B) sh tests/run_dumps.sh
dumps-update: $(B)/ampc
	@B=$(B) sh tests/run_dumps.sh --update

# Every example of the faust package imported and rendered against faust's
# own C (not in `make test`: a table, one row per example; fails when one
# that imports exceeds SPEC §7's tolerance).
.PHONY: faust-examples
faust-examples: $(B)/tests/check_faust $(B)/ampc
	@FAUST_SWEEP=1 CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4} $(B)/tests/check_faust

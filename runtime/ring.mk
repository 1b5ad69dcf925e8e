# runtime/ring.mk — the ThreadSanitizer stress of the SPSC ring.
#
# Included from runtime/runtime.mk. `make tsan-ring` builds tests/ring_stress.c
# with runtime/ring.c under gcc's -fsanitize=thread and runs it: two threads,
# 2,000,000 records through a 256-byte ring. Any TSan report stops the run
# with exit code 66, which fails the step. ring.c and pool.c themselves are
# ordinary runtime objects (build/libamprt.a), listed in runtime.mk.

RING_TSAN_CC     := gcc
RING_TSAN_CFLAGS := -std=c11 -D_GNU_SOURCE -fsanitize=thread -O1 -g \
                    -Wall -Wextra -Wshadow -Wmissing-prototypes -Iruntime
RING_TSAN_SRCS   := tests/ring_stress.c runtime/ring.c

$(B)/tsan/ring_stress: $(RING_TSAN_SRCS) runtime/ring.h runtime/layout.h runtime/layout.def
	@mkdir -p $(dir $@)
	$(RING_TSAN_CC) $(RING_TSAN_CFLAGS) -o $@ $(RING_TSAN_SRCS) -lpthread

.PHONY: tsan-ring
tsan-ring: $(B)/tsan/ring_stress
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(B)/tsan/ring_stress

TEST_STEPS += tsan-ring

# runtime/engine/engine.mk — the real-time core, $(B)/libampengine.a: the
# engine (tracks, mixer, transport, automation), its command codec and
# consumer, voices, rings and pools. Every .c of this folder also builds
# into engine.wasm (web/web.mk takes the same wildcard): a file belongs here
# exactly when the browser's engine needs it. Also the ThreadSanitizer
# stress of the ring.
#
# The top Makefile sets B, CC, CFLAGS, CPPFLAGS and the object rule
# $(B)/runtime/%.o; this file reads no variable of another fragment.

ENGINE_SRCS := $(sort $(wildcard runtime/engine/*.c))
ENGINE_OBJS := $(patsubst runtime/%.c,$(B)/runtime/%.o,$(ENGINE_SRCS))

$(B)/libampengine.a: $(ENGINE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# `make tsan-ring` builds tests/ring_stress.c with ring.c under gcc's
# -fsanitize=thread and runs it: two threads, 2,000,000 records through a
# 256-byte ring. Any TSan report stops the run with exit code 66.
RING_TSAN_CC     := gcc
RING_TSAN_CFLAGS := -std=c11 -D_GNU_SOURCE -fsanitize=thread -O1 -g \
                    -Wall -Wextra -Wshadow -Wmissing-prototypes -Iruntime/engine
RING_TSAN_SRCS   := tests/ring_stress.c runtime/engine/ring.c

$(B)/tsan/ring_stress: $(RING_TSAN_SRCS) runtime/engine/ring.h
	@mkdir -p $(dir $@)
	$(RING_TSAN_CC) $(RING_TSAN_CFLAGS) -o $@ $(RING_TSAN_SRCS) -lpthread

.PHONY: tsan-ring
tsan-ring: $(B)/tsan/ring_stress
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(B)/tsan/ring_stress

TEST_STEPS += tsan-ring

# runtime/runtime.mk — the fixed C runtime ($(B)/libamprt.a) and the `amp`
# command. Included by the top Makefile, which sets B, CC, CFLAGS, CPPFLAGS,
# LDLIBS and DEPS_STAMP.
#
# Other fragments may add their objects to RUNTIME_OBJS, so the list uses +=
# and the archive rule comes after the include: make expands a rule's
# prerequisites when it reads the rule ($^ drops an object listed twice).

RUNTIME_OBJS += $(B)/runtime/ring.o $(B)/runtime/pool.o \
                $(B)/runtime/voice.o $(B)/runtime/wav.o $(B)/runtime/notes.o \
                $(B)/runtime/host.o $(B)/runtime/build.o $(B)/runtime/embedded_headers.o

-include runtime/ring.mk
-include runtime/commands.mk
-include runtime/layout.mk
-include runtime/engine.mk
-include runtime/smf.mk

# The headers a compiled patch includes (the emitted C includes amp_patch.h
# and amp_dsp.h, which includes amp_math.h), embedded into the runtime so
# that build.c can write them beside the C it compiles (see runtime/build.h).
EMBED_HEADERS ?= runtime/amp_patch.h runtime/amp_dsp.h runtime/amp_math.h
# The generator runs on the build machine, whatever CC targets.
HOSTCC ?= cc

$(B)/runtime/%.o: runtime/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/runtime/embed: runtime/embed.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CFLAGS) -o $@ $<

$(B)/gen/embedded_headers.c: $(B)/runtime/embed $(EMBED_HEADERS)
	@mkdir -p $(dir $@)
	$(B)/runtime/embed $@ $(EMBED_HEADERS)

$(B)/runtime/embedded_headers.o: $(B)/gen/embedded_headers.c runtime/build.h runtime/amp_patch.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libamprt.a: $(RUNTIME_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# -rdynamic is not needed: a patch's shared object uses only its own code,
# the header-only kernels of amp_math.h and libm (linked into it).
$(B)/amp: $(B)/runtime/amp.o $(B)/libamprt.a $(B)/libampc.a | $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(B)/runtime/amp.o $(B)/libamprt.a $(B)/libampc.a \
	    -ldl -ljansson $(LDLIBS)

# compiler/compiler.mk — the compiler library $(B)/libampc.a (every
# compiler/*.c but main.c: one file per pass, see compiler/ampc.c) and the
# ampc driver. The front end is lang/'s own library, $(B)/libamplang.a;
# COMPILER_LIBS (top Makefile) links both, in that order.
# compiler/wasm/ is the same compiler as a WebAssembly module for the
# editor's worker (ampc.wasm: web/web.mk, `make ampc-wasm`); not in libampc.a.
COMPILER_OBJS := $(patsubst compiler/%.c,$(B)/compiler/%.o,$(sort $(filter-out compiler/main.c,$(wildcard compiler/*.c))))

$(B)/compiler/%.o: compiler/%.c | $(DEPS_STAMP) $(B)/gen/parse.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libampc.a: $(COMPILER_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/ampc: $(B)/compiler/main.o $(COMPILER_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ -ljansson $(LDLIBS)

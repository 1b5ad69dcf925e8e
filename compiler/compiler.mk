# compiler/compiler.mk — the compiler library and the ampc driver.
COMPILER_OBJS := $(B)/compiler/ampc.o $(B)/compiler/faust.o $(B)/compiler/ir.o $(B)/compiler/lower.o \
                 $(B)/compiler/emit_c.o $(B)/compiler/emit_json.o $(B)/compiler/flush.o $(B)/compiler/graph.o \
                 $(B)/compiler/sema.o $(B)/compiler/schedule.o $(B)/compiler/plan.o $(B)/compiler/loops.o

$(B)/compiler/%.o: compiler/%.c | $(DEPS_STAMP) $(B)/gen/parse.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libampc.a: $(LANG_OBJS) $(COMPILER_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/ampc: $(B)/compiler/main.o $(B)/libampc.a
	$(CC) $(CFLAGS) -o $@ $^ -ljansson $(LDLIBS)

# lang/lang.mk — the front end: arena, diagnostics, AST, lexer, grammar.
#
# lex.re goes through re2c and parse.y through lemon into $(B)/gen/; lemon's
# parse.h carries the token codes the lexer returns, so everything that
# includes it waits for it. The objects go into $(B)/libamplang.a.

RE2C   ?= re2c
LEMON  ?= lemon
LEMPAR ?= /usr/share/lemon/lempar.c

LANG_SRCS := lang/arena.c lang/diag.c lang/ast.c lang/parser.c
LANG_OBJS := $(patsubst lang/%.c,$(B)/lang/%.o,$(LANG_SRCS)) $(B)/gen/lex.o $(B)/gen/parse.o

# Extra flags for the generated C (none needed with lemon 3.40 and re2c 3.0).
LANG_GEN_CFLAGS ?=

# lemon leaves parse.h untouched when its text is unchanged: touch it so
# that make sees the rule done. lemon fails on any parsing conflict. The
# template is a prerequisite only once installed (deps may not have run yet).
$(B)/gen/parse.c $(B)/gen/parse.h &: lang/parse.y $(wildcard $(LEMPAR)) | $(DEPS_STAMP)
	@mkdir -p $(B)/gen
	$(LEMON) -T$(LEMPAR) -d$(B)/gen lang/parse.y
	@touch $(B)/gen/parse.c $(B)/gen/parse.h

$(B)/gen/lex.c: lang/lex.re $(B)/gen/parse.h | $(DEPS_STAMP)
	@mkdir -p $(B)/gen
	$(RE2C) -W --no-generation-date -o $@ lang/lex.re

$(patsubst lang/%.c,$(B)/lang/%.o,$(LANG_SRCS)): $(B)/lang/%.o: lang/%.c | $(B)/gen/parse.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/gen/lex.o $(B)/gen/parse.o: $(B)/gen/%.o: $(B)/gen/%.c | $(B)/gen/parse.h $(DEPS_STAMP)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LANG_GEN_CFLAGS) -c -o $@ $<

$(B)/libamplang.a: $(LANG_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# server/server.mk — ampd, the HTTP server (libmicrohttpd, jansson, sqlite3,
# libsodium; the engine's project reader from libampformats.a).
#
# The endpoint files go into $(B)/libampd.a, linked by the ampd driver and by
# the Check suite tests/check_server.c (which tests.mk builds and runs with
# the other suites: here we only add what it needs, and make sure ampd is
# built before the suites run, since the suite starts it).

SERVER_SRCS := server/http.c server/static.c server/api_health.c server/workers.c \
               server/store_sqlite.c server/auth.c server/api.c server/api_accounts.c \
               server/api_projects.c server/api_live.c server/doc_upgrade.c
# The patch library (issue 10): a user's .amp patches and the built-in nodes/.
SERVER_SRCS += server/api_patches.c
# Audio assets: uploads streamed to disk, stored by content hash.
SERVER_SRCS += server/api_assets.c server/api_bundle.c
# The compile service: ampc run confined, results cached by content.
SERVER_SRCS += server/api_compile.c
# Live updates: the WebSocket protocol (ws.c, SHA-1 from nettle) and the
# hub with its event loop (live.c).
SERVER_SRCS += server/ws.c server/live.c
SERVER_OBJS := $(patsubst server/%.c,$(B)/server/%.o,$(SERVER_SRCS)) $(B)/server/migrations.o
SERVER_LDLIBS := $(B)/libampformats.a -lmicrohttpd -ljansson -lsqlite3 -lsodium -lnettle -lpthread

# The schema migrations, numbered, applied in order by store_sqlite.c, are
# embedded into the binary by runtime/gen/embed.c; its array is renamed so
# it cannot meet the patch headers' build_headers in one link.
SERVER_MIGRATIONS := $(sort $(wildcard server/migrations/*.sql))
$(B)/gen/migrations.c: $(B)/runtime/gen/embed $(SERVER_MIGRATIONS)
	@mkdir -p $(dir $@)
	$(B)/runtime/gen/embed $@ $(SERVER_MIGRATIONS)
$(B)/server/migrations.o: $(B)/gen/migrations.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Dbuild_headers=store_migrations -Dbuild_n_headers=store_n_migrations $(CFLAGS) -c -o $@ $<

# Port for `make serve`.
AMPD_PORT ?= 8080

all: $(B)/ampd

$(B)/server/%.o: server/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iserver $(CFLAGS) -c -o $@ $<

# ampd's default patch module recipe is this checkout's (--module-script).
$(B)/server/main.o: private CPPFLAGS += -DAMPD_MODULE_SCRIPT='"$(abspath runtime/wasm/patch_module.sh)"'

$(B)/libampd.a: $(SERVER_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/ampd: $(B)/server/main.o $(B)/libampd.a $(B)/libampformats.a
	$(CC) $(CFLAGS) -o $@ $(B)/server/main.o $(B)/libampd.a $(SERVER_LDLIBS) $(LDLIBS)

# The suite links the server library and finds the binary by a relative path.
$(B)/tests/check_server: $(B)/libampd.a
$(B)/tests/check_server: private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"'
$(B)/tests/check_server: private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)
check-suites: $(B)/ampd

# The API suite starts its own ampd with a temporary --data (check_api.c).
$(B)/tests/check_api: $(B)/libampd.a
$(B)/tests/check_api: private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"'
$(B)/tests/check_api: private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)

# The patch library's suite starts its own ampd with --library nodes (check_patches.c).
$(B)/tests/check_patches: $(B)/libampd.a
$(B)/tests/check_patches: private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"' -DAMP_PATH='"$(B)/amp"' -DAMPC_PATH='"$(B)/ampc"' \
    -DSTANDIN_PATH='"$(B)/tests/compile_standin"'
# The compiler that misbehaves on purpose (the "limits" case); it runs
# the real ampc beside it for ordinary text.
$(B)/tests/check_patches: | $(B)/tests/compile_standin
$(B)/tests/compile_standin: tests/compile_standin.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<
$(B)/tests/check_patches: private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)
# The assets suite starts its own ampd too (check_assets.c); it hashes with
# libsodium.
$(B)/tests/check_assets: private CPPFLAGS += -DAMPD_PATH='"$(B)/ampd"'
$(B)/tests/check_assets: private CHECK_LDLIBS += -lsodium
# Uploads under load (check_uploads.c): the same, with its own ampd.
$(B)/tests/check_uploads: private CPPFLAGS += -DAMPD_PATH='"$(B)/ampd"'
$(B)/tests/check_uploads: private CHECK_LDLIBS += -lsodium

# Durability: saves acknowledged across kill -9 of ampd (tests/durability.c).
# make test runs DURABILITY_KILLS kills; test-durability-long many more.
DURABILITY_KILLS ?= 120
$(B)/tests/durability: tests/durability.c $(B)/ampd | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iserver $(CFLAGS) -DAMPD_PATH='"$(B)/ampd"' -o $@ $< -ljansson -lsqlite3 -lsodium -lpthread
TEST_STEPS += test-durability
.PHONY: test-durability test-durability-long
test-durability: $(B)/tests/durability $(B)/ampd
	$(B)/tests/durability --kills $(DURABILITY_KILLS)
test-durability-long: $(B)/tests/durability $(B)/ampd
	$(B)/tests/durability --kills 2000


# make bench-server: ampd against nginx on the same static files with wrk
# (tests/bench/server_bench.sh); prints the table and keeps it in
# $(B)/bench/server.txt. Not part of `make test`: nothing is asserted.
# nginx and wrk are the bench's own dependencies, installed here only.
.PHONY: bench-server
bench-server: $(B)/ampd
	@sh tests/install-deps.sh nginx-light wrk
	@mkdir -p $(B)/bench
	sh tests/bench/server_bench.sh $(B)/ampd $(B)/bench/server.txt

# The WebSocket suites: ws.c's framing alone, and live.c over real sockets
# with an in-process daemon.
SERVER_SUITES := $(B)/tests/check_ws $(B)/tests/check_live
$(SERVER_SUITES): $(B)/libampd.a
$(SERVER_SUITES): private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"'
$(SERVER_SUITES): private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)

# The server tests alone: make test-server.
.PHONY: test-server serve
test-server: $(B)/tests/check_server $(B)/tests/check_api $(B)/tests/check_patches $(B)/tests/check_assets $(B)/tests/check_uploads $(SERVER_SUITES) $(B)/ampd $(B)/amp $(B)/ampc
	$(B)/tests/check_server
	$(B)/tests/check_api
	$(B)/tests/check_patches
	$(B)/tests/check_assets
	$(B)/tests/check_uploads
	$(B)/tests/check_ws
	$(B)/tests/check_live

serve: $(B)/ampd
	$(B)/ampd --root $(B)/web --port $(AMPD_PORT) --data $(B)/data --local --library nodes

# server/server.mk — ampd, the HTTP server (libmicrohttpd, jansson, sqlite3).
#
# The endpoint files go into $(B)/libampd.a, linked by the ampd driver and by
# the Check suite tests/check_server.c (which tests.mk builds and runs with
# the other suites: here we only add what it needs, and make sure ampd is
# built before the suites run, since the suite starts it).

SERVER_SRCS := server/http.c server/static.c server/api_health.c
# Live updates: the WebSocket protocol (ws.c, SHA-1 from nettle) and the
# hub with its event loop (live.c).
SERVER_SRCS += server/ws.c server/live.c
SERVER_OBJS := $(patsubst server/%.c,$(B)/server/%.o,$(SERVER_SRCS))
SERVER_LDLIBS := -lmicrohttpd -ljansson -lsqlite3 -lnettle -lpthread

# Port for `make serve`.
AMPD_PORT ?= 8080

all: $(B)/ampd

$(B)/server/%.o: server/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iserver $(CFLAGS) -c -o $@ $<

$(B)/libampd.a: $(SERVER_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/ampd: $(B)/server/main.o $(B)/libampd.a
	$(CC) $(CFLAGS) -o $@ $^ $(SERVER_LDLIBS) $(LDLIBS)

# The suite links the server library and finds the binary by a relative path.
$(B)/tests/check_server: $(B)/libampd.a
$(B)/tests/check_server: private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"'
$(B)/tests/check_server: private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)
check-suites: $(B)/ampd

# The WebSocket suites: ws.c's framing alone, and live.c over real sockets
# with an in-process daemon.
SERVER_SUITES := $(B)/tests/check_ws $(B)/tests/check_live
$(SERVER_SUITES): $(B)/libampd.a
$(SERVER_SUITES): private CPPFLAGS += -Iserver -DAMPD_PATH='"$(B)/ampd"'
$(SERVER_SUITES): private CHECK_LDLIBS += $(B)/libampd.a $(SERVER_LDLIBS)

# The server tests alone: make test-server.
.PHONY: test-server serve
test-server: $(B)/tests/check_server $(SERVER_SUITES) $(B)/ampd
	$(B)/tests/check_server
	$(B)/tests/check_ws
	$(B)/tests/check_live

serve: $(B)/ampd
	$(B)/ampd --root $(B)/web --port $(AMPD_PORT)

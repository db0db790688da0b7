# cafesync: one hand-written Makefile.
#
#   make                  build cafe (and the libraries) into build/
#   make check            install missing packages, build, run every test
#   make check SANITIZE=1 the same under AddressSanitizer + UBSan
#   make bench            build optimized and print the benchmark figures
#   make fuzz             build the libFuzzer targets with clang and run each
#                         FUZZ_SECONDS (60) from tests/fuzz/corpus/
#   make demo             a hub and a site on this machine, end to end
#   make install PREFIX=/usr/local DESTDIR=
#   make deb              the Debian package, in build-deb/
#   make deb-test         build it, install it in a Debian 12 root, check it
#   make clean

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?= 0
BUILD ?= build
# The version cafe --version and cafed --version print: VERSION, unless
# the packaging passes the Debian version (debian/changelog agrees).
VERSION ?= $(shell cat VERSION)
MANDIR ?= $(PREFIX)/share/man

PKGS = lmdb libuv libsodium msgpack jansson cmocka
DEB_PKGS = build-essential pkg-config liblmdb-dev libuv1-dev libmsgpack-dev \
	libsodium-dev libjansson-dev libcsv-dev libcmocka-dev libinih-dev \
	libsystemd-dev libpq-dev libzstd-dev zstd postgresql perl jq python3 \
	lmdb-utils faketime chromium poppler-utils tmux tzdata iproute2 bc \
	clang cppcheck
DEB_HEADERS = /usr/include/lmdb.h /usr/include/uv.h /usr/include/msgpack.h \
	/usr/include/sodium.h /usr/include/jansson.h /usr/include/csv.h \
	/usr/include/cmocka.h /usr/include/ini.h /usr/include/systemd/sd-daemon.h \
	/usr/include/postgresql/libpq-fe.h /usr/include/zstd.h

WARN = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 \
	-Wno-unused-parameter
CFLAGS ?= -O2 -g
override CFLAGS += -pthread -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -MMD -MP
CPPFLAGS += -I.
LDLIBS_CORE = -llmdb -lmsgpackc -lsodium -lzstd -pthread
LDLIBS_CLI = $(LDLIBS_CORE) -ljansson -lcsv -lpq
# libpq's header lives in its own folder; only mirror/ and the files
# that use it need it.
PQ_CPPFLAGS = -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
LDLIBS_DAEMON = $(LDLIBS_CORE) -luv -ljansson -linih -lsystemd -lpq

ifeq ($(SANITIZE),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
override LDFLAGS += -fsanitize=address,undefined
BUILD := build-san
endif

PROTO_SRC = $(wildcard proto/*.c)
STORAGE_SRC = $(wildcard storage/*.c)
CLI_SRC = $(wildcard cli/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
MIRROR_SRC = $(wildcard mirror/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
BENCH_SRC = $(wildcard tests/bench/bench_*.c)
NETTOOL_SRC = $(wildcard tests/net/*.c)

PROTO_OBJ = $(PROTO_SRC:%.c=$(BUILD)/%.o)
STORAGE_OBJ = $(STORAGE_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
MIRROR_OBJ = $(MIRROR_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(BUILD)/tests/%)
NETTOOL_BIN = $(NETTOOL_SRC:tests/net/%.c=$(BUILD)/tests/%) \
	$(BUILD)/tests/bench_genbundle $(BUILD)/tests/bench_fanin

LIBPROTO = $(BUILD)/libcafeproto.a
LIBSTORAGE = $(BUILD)/libcafestorage.a
LIBMIRROR = $(BUILD)/libcafemirror.a
CAFE = $(BUILD)/cafe
CAFED = $(BUILD)/cafed

.PHONY: all check unit cli-test net-test bench fuzz demo install clean deps lint \
	deb deb-deps deb-test

all: $(CAFE) $(CAFED)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Only the two entry points carry the version.
$(BUILD)/cli/cafe.o $(BUILD)/daemon/cafed.o: VERSION
$(BUILD)/cli/cafe.o $(BUILD)/daemon/cafed.o: CPPFLAGS += -DCAFESYNC_VERSION='"$(VERSION)"'

$(LIBPROTO): $(PROTO_OBJ)
	$(AR) rcs $@ $^

$(LIBSTORAGE): $(STORAGE_OBJ)
	$(AR) rcs $@ $^

$(MIRROR_OBJ): CPPFLAGS += $(PQ_CPPFLAGS)

$(LIBMIRROR): $(MIRROR_OBJ)
	$(AR) rcs $@ $^

$(CAFE): $(CLI_OBJ) $(LIBMIRROR) $(LIBSTORAGE) $(LIBPROTO)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBMIRROR) $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_CLI)

$(CAFED): $(DAEMON_OBJ) $(LIBMIRROR) $(LIBSTORAGE) $(LIBPROTO)
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIBMIRROR) $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_DAEMON)

# The tests of storage/ (test_store_*.c) share tests/unit/store_fixture.c;
# a unit test links the objects among its prerequisites.
STORE_FIXTURE_OBJ = $(BUILD)/tests/unit/store_fixture.o
$(filter $(BUILD)/tests/test_store_%,$(UNIT_BIN)): $(STORE_FIXTURE_OBJ)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBSTORAGE) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_CORE) -lcmocka

# The fan-in load tool runs its many sites on libuv.
$(BUILD)/tests/bench_fanin: tests/bench/bench_fanin.c $(LIBSTORAGE) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_CORE) -luv

$(BUILD)/tests/bench_%: tests/bench/bench_%.c $(LIBSTORAGE) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_CORE)

# Programs the multi-node tests use to play a hostile or odd peer.
$(BUILD)/tests/%: tests/net/%.c $(LIBSTORAGE) $(LIBPROTO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSTORAGE) $(LIBPROTO) $(LDLIBS_CORE)

# Installs the Debian packages the build and the tests need, once, only
# when a header is missing.
deps:
	@missing=0; for h in $(DEB_HEADERS); do [ -e $$h ] || missing=1; done; \
	for c in prove jq python3 mdb_dump zstd faketime chromium pdftotext pg_config tmux clang cppcheck; do command -v $$c >/dev/null || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	[ -e /usr/share/zoneinfo/America/Denver ] || missing=1; \
	if [ $$missing = 1 ]; then \
		echo "installing build dependencies: $(DEB_PKGS)"; \
		apt-get update && apt-get install -y $(DEB_PKGS); \
	fi

# Runs every unit test binary, failing after the last if any failed.
RUN_UNIT = fail=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || fail=1; done

NET_ENV = CAFE=$(abspath $(CAFE)) CAFED=$(abspath $(CAFED)) \
	TOOLS=$(abspath $(BUILD)/tests) SANITIZE=$(SANITIZE)

check: deps
	$(MAKE) $(CAFE) $(CAFED) $(UNIT_BIN) $(NETTOOL_BIN)
	@$(RUN_UNIT); $(NET_ENV) prove -j2 tests/cli/ tests/net/ || fail=1; \
	exit $$fail

# Only the multi-node tests.
net-test: $(CAFE) $(CAFED) $(NETTOOL_BIN)
	$(NET_ENV) prove -v tests/net/

unit: $(UNIT_BIN)
	@$(RUN_UNIT); exit $$fail

bench: deps
	$(MAKE) BUILD=build-bench CFLAGS="-O2 -g -DNDEBUG" build-bench/cafe build-bench/cafed $(BENCH_SRC:tests/bench/%.c=build-bench/tests/%) build-bench/tests/delayrelay
	CAFE=$(abspath build-bench/cafe) BENCH_BIN=$(abspath build-bench/tests) sh tests/bench/run.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) BENCH_BIN=$(abspath build-bench/tests) sh tests/bench/sync.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) sh tests/bench/slowlink.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) TOOLS=$(abspath build-bench/tests) sh tests/bench/rural.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) TOOLS=$(abspath build-bench/tests) bash tests/bench/growth.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) sh tests/bench/mirror.sh
	CAFE=$(abspath build-bench/cafe) CAFED=$(abspath build-bench/cafed) BENCH_BIN=$(abspath build-bench/tests) sh tests/bench/fanin.sh
	CAFE=$(abspath build-bench/cafe) bash tests/bench/cli.sh

FUZZ_SECONDS = 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I.
fuzz: deps
	@command -v clang >/dev/null || { apt-get update && apt-get install -y clang; }
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_commit tests/fuzz/fuzz_commit.c $(PROTO_SRC) -lmsgpackc -lsodium -lzstd
	clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_bundle tests/fuzz/fuzz_bundle.c $(PROTO_SRC) -lmsgpackc -lsodium -lzstd
	clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_wire tests/fuzz/fuzz_wire.c $(PROTO_SRC) -lmsgpackc -lsodium -lzstd
	clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_seal tests/fuzz/fuzz_seal.c $(PROTO_SRC) -lmsgpackc -lsodium -lzstd
	clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_zcodec tests/fuzz/fuzz_zcodec.c $(PROTO_SRC) -lmsgpackc -lsodium -lzstd
	for t in commit bundle wire seal zcodec; do \
		mkdir -p build-fuzz/corpus/$$t && \
		./build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-dict=tests/fuzz/cafesync.dict -print_final_stats=1 \
			build-fuzz/corpus/$$t $$(test -d tests/fuzz/corpus/$$t && \
			echo tests/fuzz/corpus/$$t) || exit 1; \
	done

demo: deps $(CAFE) $(CAFED)
	CAFE=$(abspath $(CAFE)) CAFED=$(abspath $(CAFED)) sh deploy/demo.sh

# The unit names /usr/sbin/cafed; installed elsewhere, it names $(PREFIX).
install: $(CAFE) $(CAFED)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/share/doc/cafesync/examples \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(CAFE) $(DESTDIR)$(PREFIX)/bin/cafe
	install -m 0755 $(CAFED) $(DESTDIR)$(PREFIX)/sbin/cafed
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/cafesync/
	install -m 0644 deploy/*.conf deploy/cafesync.sysusers \
		deploy/cafesync.tmpfiles \
		$(DESTDIR)$(PREFIX)/share/doc/cafesync/examples/
	sed -e 's|/usr/sbin/cafed|$(PREFIX)/sbin/cafed|g' \
		-e 's|/usr/share/doc/cafesync|$(PREFIX)/share/doc/cafesync|g' \
		deploy/cafed.service > $(DESTDIR)$(PREFIX)/share/doc/cafesync/examples/cafed.service
	chmod 0644 $(DESTDIR)$(PREFIX)/share/doc/cafesync/examples/cafed.service
	install -m 0644 docs/man/cafe.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/cafed.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/cafed.8 $(DESTDIR)$(MANDIR)/man8/

# The Debian package (debian/), built out of a copy of the tree so that
# the build leaves the checkout alone; the .deb lands in build-deb/.
DEB_BUILD_PKGS = debhelper dpkg-dev lintian debootstrap man-db
deb-deps:
	@missing=0; for c in dh dpkg-buildpackage lintian debootstrap man; do \
		command -v $$c >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "installing packaging tools: $(DEB_BUILD_PKGS)"; \
		apt-get update && apt-get install -y $(DEB_BUILD_PKGS); \
	fi

deb: deps deb-deps
	sh tests/deb/build.sh build-deb

# Builds the package twice (two versions) and checks it installed, upgraded
# over a running daemon, removed and purged, in a debootstrapped root.
deb-test: deps deb-deps
	bash tests/deb/deb-test.sh build-deb

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--library=.ci/jansson.cfg \
		--inline-suppr -I. proto storage cli daemon

clean:
	rm -rf build build-san build-bench build-fuzz build-deb

# The dependencies of every build directory in use, $(BUILD) included
# (make BUILD=DIR must rebuild what a changed header touches too).
-include $(shell find $(sort $(BUILD) build build-san build-bench) -name '*.d' 2>/dev/null)

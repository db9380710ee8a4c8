# countfs - see README.md.  `make` builds ./countfs; `make run`, `make test`.
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
DEPS = fuse3 lmdb libmariadb
VERSION = 0.7.0
CPPFLAGS += -D_GNU_SOURCE -DCOUNTFS_VERSION='"$(VERSION)"' $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null || echo -lfuse3 -llmdb -lmariadb) -lpthread
ALL_CFLAGS = -std=gnu11 $(WARN) -MMD -MP $(CFLAGS)

COMMON = common/log.c common/notify.c
STORE = store/shard.c store/commit.c store/threads.c store/journal.c store/jscan.c store/damage.c store/record.c \
	store/query.c store/retain.c store/pending.c store/identity.c store/backup.c \
	store/format.c store/keys.c store/upgrade.c store/top.c
REPL = replicate/conn.c replicate/push.c replicate/global.c
FS = fs/fs.c fs/inode.c fs/live.c fs/line.c fs/path.c fs/series.c fs/stats.c \
	fs/top.c
DAEMON_SRC = $(COMMON) $(STORE) $(REPL) $(FS) fs/main.c

B = build
objs = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

.PHONY: all run test bench bench-scale bench-steady fuzz torture deps deps-build clean asan tsan \
	install uninstall
all: countfs countfs-top countfs-backup

$(B)/opt/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -c $< -o $@

# ThreadSanitizer: -O1 -g like the ASan build, objects apart.
$(B)/tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -O1 -g -fsanitize=thread -c $< -o $@

countfs: $(call objs,opt,$(DAEMON_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

countfs-top: tools/countfs-top.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< -lm

# The backup tool: the store's code without FUSE or MySQL.
countfs-backup: tools/countfs-backup.c $(call objs,opt,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(shell $(PKG_CONFIG) --libs lmdb 2>/dev/null || echo -llmdb) -lpthread

countfs-asan: $(call objs,asan,$(DAEMON_SRC))
	$(CC) $(LDFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

asan: countfs-asan

countfs-tsan: $(call objs,tsan,$(DAEMON_SRC))
	$(CC) $(LDFLAGS) -fsanitize=thread -o $@ $^ $(LDLIBS)

store/test_store-tsan: tests/unit/test_store.c $(call objs,tsan,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -O1 -g -fsanitize=thread -o $@ $^ $(LDLIBS)

tsan: countfs-tsan store/test_store-tsan

store/test_store: tests/unit/test_store.c $(call objs,asan,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

store/test_range: tests/unit/test_range.c $(call objs,asan,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

store/test_top: tests/unit/test_top.c $(call objs,asan,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS) -lm

# Every byte layout of keys.c, and the store on top of it, on random input.
store/test_keys: tests/unit/test_keys.c $(call objs,asan,$(COMMON) $(STORE))
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

fs/test_line: tests/unit/test_line.c $(call objs,asan,fs/line.c fs/path.c)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

# The inode table against a model, and from several threads.
fs/test_inode: tests/unit/test_inode.c $(call objs,asan,fs/inode.c fs/line.c fs/path.c)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

# Install what is missing (only as root, only on Debian-like systems):
# what the build needs for `make run`, and the test tools for the rest.
deps:
	@sh tests/helpers/deps.sh test

deps-build:
	@sh tests/helpers/deps.sh build

run: deps-build countfs countfs-top
	@mkdir -p mnt data
	@echo "countfs: mounted at ./mnt, data in ./data; Ctrl-C unmounts"
	./countfs mnt -f -o data=data

test: deps countfs countfs-top countfs-backup countfs-asan store/test_store store/test_range store/test_keys store/test_top fs/test_line fs/test_inode bench/load \
	tsan
	@sh tests/run.sh

# The do-nothing FUSE reference: libfuse alone (and the hash of inodes).
bench/nullfs: bench/nullfs.c common/hash.h
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

bench/load: bench/load.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LDLIBS) -lm

# The comparison with the do-nothing FUSE, Redis and MariaDB; QUICK=1 for
# a one-second pass of every workload.
bench: deps countfs bench/nullfs bench/load
	@QUICK=$(QUICK) bash bench/run.sh

# The long tail (bench/tail.sh): the scale curve up to SCALE_MAX videos,
# and STEADY_SECONDS of 100,000 events/s over 1M videos; QUICK=1: seconds.
SCALE_MAX ?= 10000000
STEADY_SECONDS ?= 900
bench-scale: deps countfs bench/load
	@QUICK=$(QUICK) SCALE_MAX=$(SCALE_MAX) bash bench/tail.sh scale

bench-steady: deps countfs bench/load
	@QUICK=$(QUICK) STEADY_SECONDS=$(STEADY_SECONDS) bash bench/tail.sh steady

# The long fault suite and its report (KILLS=50, SOAK_SECONDS=600);
# SANITIZE=1 runs it against the ASan/UBSan build.
torture: deps countfs countfs-asan bench/load
	@SANITIZE=$(SANITIZE) sh tests/torture/run.sh

# libFuzzer (clang): each target for FUZZ_SECONDS (default 60) from its
# seed corpus; a crash leaves crash-* files and fails.
FUZZ_SECONDS ?= 60
FUZZERS = line ingest path journal keys
FUZZ_BIN = $(patsubst %,$(B)/fuzz_%,$(FUZZERS))

# The journal's judge needs no LMDB: jscan.c alone.
$(B)/fuzz_journal: tests/fuzz/fuzz_journal.c store/jscan.c
	@mkdir -p $(B)
	clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ $^

# Packs and heads: keys.c alone.
$(B)/fuzz_keys: tests/fuzz/fuzz_keys.c store/keys.c tests/unit/keys_check.h
	@mkdir -p $(B)
	clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c,$^)

$(B)/fuzz_%: tests/fuzz/fuzz_%.c fs/line.c fs/path.c
	@mkdir -p $(B)
	clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ $^

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZERS); do \
		mkdir -p $(B)/corpus-$$f; \
		echo "== fuzzing $$f for $(FUZZ_SECONDS)s"; \
		$(B)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
			-artifact_prefix=$(B)/crash-$$f- $(B)/corpus-$$f \
			tests/fuzz/corpus/$$f >$(B)/fuzz-$$f.log 2>&1; \
		rc=$$?; tail -2 $(B)/fuzz-$$f.log; \
		[ $$rc = 0 ] || { cat $(B)/fuzz-$$f.log; exit 1; }; \
	done

# The daemon, countfs-top, countfs-backup, their man pages and the examples, under
# $(DESTDIR)$(PREFIX).  With PREFIX=/usr/local (the default) or /usr,
# mount.fuse3 finds the daemon for fstab lines of type fuse.countfs.
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man
DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/countfs
EXAMPLES = examples/README.md examples/tour.sh examples/client.py \
	examples/client.c examples/client.js examples/nginx-ingest.sh \
	examples/access.log examples/nginx-countfs.conf examples/plot \
	examples/milestone.sh examples/live.sh examples/countfs.service

install: countfs countfs-top countfs-backup
	install -d $(BINDIR) $(MANDIR)/man8 $(MANDIR)/man1 $(DOCDIR)/examples
	install -m 755 countfs countfs-top countfs-backup $(BINDIR)
	install -m 644 man/countfs.8 $(MANDIR)/man8
	install -m 644 man/countfs-top.1 man/countfs-backup.1 $(MANDIR)/man1
	install -m 644 README.md $(DOCDIR)
	install -m 644 $(EXAMPLES) $(DOCDIR)/examples
	chmod 755 $(DOCDIR)/examples/tour.sh $(DOCDIR)/examples/client.py \
		$(DOCDIR)/examples/client.js $(DOCDIR)/examples/nginx-ingest.sh \
		$(DOCDIR)/examples/plot $(DOCDIR)/examples/milestone.sh \
		$(DOCDIR)/examples/live.sh

uninstall:
	rm -f $(BINDIR)/countfs $(BINDIR)/countfs-top $(BINDIR)/countfs-backup \
		$(MANDIR)/man8/countfs.8 $(MANDIR)/man1/countfs-top.1 \
		$(MANDIR)/man1/countfs-backup.1
	rm -rf $(DOCDIR)

clean:
	rm -rf $(B) countfs countfs-top countfs-backup countfs-asan store/test_store store/test_range store/test_keys store/test_top fs/test_line fs/test_inode bench/nullfs bench/load \
		countfs-tsan store/test_store-tsan

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# These carry the version.
VERSIONED = fs/main.o fs/stats.o fs/fs.o store/format.o
$(foreach k,opt asan tsan,$(addprefix $(B)/$(k)/,$(VERSIONED))) countfs-backup countfs-top: Makefile

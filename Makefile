# make run   — install what is missing, build, start the server on port 3001 (local disk storage)
# make test  — install what is missing, build, run every test (Swift, then live tests in Python, then V4L2 in a VM)
# make fuzz  — libFuzzer on the frame decoder, multipart reader, spool walker and camera JPEG check (FUZZ_SECONDS each, default 60)
# make bench-catalog — the list, a status, a recording's entry with 100,000 recordings, on SQLite and on PostgreSQL
# make bench-cluster — three servers behind nginx: a frame relayed against sent straight, frames/s round-robin against hashing
# make bench — transcode benchmark against ffmpeg on 600 generated 720p frames
# make screenshot — the README's picture of the web page, from the browser test
# make static, then make install — reel with Swift's runtime inside it (runs without Swift) and its systemd units,
#                under PREFIX (default /usr/local), DESTDIR honoured

SWIFT ?= swift
FRAMES ?= 600
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
# Where `make test` installs, to test the installed binary alone.
TEST_INSTALL = $(CURDIR)/.build/install-test

.PHONY: setup build release static install run transcode test fuzz bench bench-ingest bench-cameras bench-live bench-catalog bench-cluster bench-page screenshot fixtures clean

setup:
	scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# Swift's standard library and Foundation linked in: the binary needs only Debian's
# FFmpeg, libjpeg-turbo, libcurl and libv4l libraries where it runs.
static: setup
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static

# Copies what `make static` built; run that first as yourself, then this as root.
install:
	@[ -x .build-static/release/reel ] || { echo "make install: no .build-static/release/reel; run make static first" >&2; exit 1; }
	install -D -s -m 0755 .build-static/release/reel $(DESTDIR)$(BINDIR)/reel
	for unit in reel.service reel-capture@.service; do \
		sed 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/$$unit > .build-static/$$unit && \
		install -D -m 0644 .build-static/$$unit $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	[ -e $(DESTDIR)/etc/reel/reel.env ] || install -D -m 0640 packaging/reel.env $(DESTDIR)/etc/reel/reel.env

run: release
	.build/release/reel serve

transcode: release
	mkdir -p out
	.build/release/reel transcode fixtures -o out/fixtures.mp4

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) static
	rm -rf $(TEST_INSTALL) && $(MAKE) install DESTDIR=$(TEST_INSTALL) PREFIX=/usr/local
	REEL_BIN=$(CURDIR)/.build/debug/reel REEL_INSTALLED=$(TEST_INSTALL) \
		python3 -m pytest -q Tests/Live Tests/SupabaseStandIn Tests/Vivid
	FUZZ_SECONDS=60 scripts/fuzz.sh

fuzz: setup
	scripts/fuzz.sh

bench: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench.py bench-data/frames-720p

bench-ingest: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench_ingest.py --frames-dir bench-data/frames-720p

bench-cameras: release
	python3 scripts/bench_cameras.py --reel .build/release/reel

bench-live: release
	python3 scripts/bench_live.py --reel .build/release/reel

bench-catalog: release
	python3 scripts/bench_catalog.py --reel .build/release/reel

bench-cluster: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench_cluster.py --reel .build/release/reel

bench-page: release
	python3 scripts/bench_page.py

# The README's picture of the page, taken by the browser test, made small.
screenshot: build
	mkdir -p out
	REEL_SCREENSHOT=$(CURDIR)/out/page.png REEL_BIN=$(CURDIR)/.build/debug/reel \
		python3 -m pytest -q Tests/Live/test_page.py -k record_in_the_browser
	convert out/page.png -strip +dither -colors 128 PNG8:docs/page.png

fixtures: setup
	scripts/make-fixtures.sh

clean:
	rm -rf .build .build-fuzz .build-static out bench-data fuzz-corpus

# make run   — install what is missing, build, start the server on port 3001 (local disk storage)
# make test  — install what is missing, build, run every test (Swift, then live tests in Python, then V4L2 in a VM)
# make fuzz  — libFuzzer on the frame decoder, multipart reader, spool walker and camera JPEG check (FUZZ_SECONDS each, default 60)
# make bench — transcode benchmark against ffmpeg on 600 generated 720p frames
# make screenshot — the README's picture of the web page, from the browser test

SWIFT ?= swift
FRAMES ?= 600

.PHONY: setup build release run transcode test fuzz bench bench-ingest bench-page screenshot fixtures clean

setup:
	scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

run: release
	.build/release/reel serve

transcode: release
	mkdir -p out
	.build/release/reel transcode fixtures -o out/fixtures.mp4

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test
	REEL_BIN=$(CURDIR)/.build/debug/reel python3 -m pytest -q Tests/Live Tests/SupabaseStandIn Tests/Vivid
	FUZZ_SECONDS=60 scripts/fuzz.sh

fuzz: setup
	scripts/fuzz.sh

bench: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench.py bench-data/frames-720p

bench-ingest: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench_ingest.py --frames-dir bench-data/frames-720p

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
	rm -rf .build .build-fuzz out bench-data fuzz-corpus

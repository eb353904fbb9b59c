# make run   — install what is missing, build, encode the fixtures into out/fixtures.mp4
# make test  — install what is missing, build, run every test
# make bench — transcode benchmark against ffmpeg on 600 generated 720p frames

SWIFT ?= swift
FRAMES ?= 600

.PHONY: setup build release run test bench fixtures clean

setup:
	scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

run: release
	mkdir -p out
	.build/release/reel transcode fixtures -o out/fixtures.mp4

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test

bench: release
	scripts/make-footage.sh $(FRAMES) bench-data/frames-720p
	python3 scripts/bench.py bench-data/frames-720p

fixtures: setup
	scripts/make-fixtures.sh

clean:
	rm -rf .build out bench-data

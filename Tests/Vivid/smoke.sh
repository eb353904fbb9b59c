#!/bin/sh
# Runs inside the vivid VM (Tests/Vivid/run.sh Tests/Vivid/smoke.sh /usr/bin/v4l2-ctl):
# the driver is there and offers YUYV, the raw format `reel capture` JPEG-codes.
# The full listing (~160 KB: every size and frame rate) goes to /out/formats.txt only.
set -e
{
    v4l2-ctl --list-devices
    v4l2-ctl -d /dev/video0 --list-formats-ext
} > /out/formats.txt 2>&1
v4l2-ctl --list-devices
grep "^[[:space:]]*\[[0-9]*\]: " /out/formats.txt   # one line per format
grep -q "'YUYV'" /out/formats.txt || { echo "smoke: vivid lists no YUYV format" >&2; exit 1; }
echo "smoke: vivid offers YUYV on /dev/video0"

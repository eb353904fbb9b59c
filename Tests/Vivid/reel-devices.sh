#!/bin/sh
# Runs inside the vivid VM: `reel devices` finds vivid's capture node and lists its formats.
#   Tests/Vivid/run.sh Tests/Vivid/reel-devices.sh .build/debug/reel
# Output in /out/help.txt and /out/devices.txt.
set -e
reel --help > /out/help.txt 2>&1
rc=0
reel devices > /out/devices.txt 2>&1 || rc=$?
head -8 /out/devices.txt   # the whole list is ~600 lines
[ $rc -eq 0 ] || { echo "reel-devices: reel devices exited $rc" >&2; exit 1; }
grep -q /dev/video0 /out/devices.txt || { echo "reel-devices: /dev/video0 not listed" >&2; exit 1; }
grep -qi yuyv /out/devices.txt || { echo "reel-devices: no YUYV format listed" >&2; exit 1; }

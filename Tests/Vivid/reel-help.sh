#!/bin/sh
# Runs inside the vivid VM: a Swift executable with its runtime (/opt/swift/usr/lib/swift/linux),
# Foundation, FFmpeg, libturbojpeg, libcurl and libv4l2 starts there.
#   Tests/Vivid/run.sh Tests/Vivid/reel-help.sh .build/debug/reel
set -e
reel --help > /out/help.txt 2>&1
cat /out/help.txt
grep -q 'USAGE: reel' /out/help.txt

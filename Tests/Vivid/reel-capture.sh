#!/bin/sh
# Runs inside the vivid VM: reel captures from the kernel's vivid driver (YUYV,
# JPEG-coded by reel), once to files and once through a reel server on the VM's
# loopback. The host checks the results in /out (Tests/Vivid/test_vivid.py).
set -e
reel devices > /out/devices.txt 2>&1
# 0. No on-screen text: every frame is the same picture, so a raw frame taken
#    here is what reel captures below.
v4l2-ctl -d /dev/video0 --set-ctrl=osd_text_mode=2
v4l2-ctl -d /dev/video0 --set-fmt-video=width=640,height=480,pixelformat=YUYV \
    --stream-mmap --stream-count=3 --stream-to=/out/raw.yuyv
# 1. Frames to a folder.
reel capture --device /dev/video0 --format yuyv --size 640x480 --fps 25 --frames 10 \
    --output-dir /out/frames 2> /out/capture-files.log
# 2. Frames through a server, which stores the MP4 in /out/videos.
mkdir -p /tmp/serve
cd /tmp/serve
reel serve --host 127.0.0.1 --port 3001 --storage-dir /out/videos --spool-dir /tmp/spool \
    --preset ultrafast --threads 1 --min-free 64M > /out/serve.log 2>&1 &
server=$!
i=0
until wget -q -O /dev/null http://127.0.0.1:3001/healthz; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "reel serve did not start" >&2; cat /out/serve.log >&2; exit 1; }
    sleep 0.2
done
reel capture --device /dev/video0 --format yuyv --size 640x480 --fps 25 --frames 25 \
    --server http://127.0.0.1:3001 > /out/capture-url.txt 2> /out/capture-server.log
kill -TERM $server
wait $server || true
echo "reel-capture: done"

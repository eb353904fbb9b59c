#!/usr/bin/env python3
"""YUYV 1280x720 -> JPEG, as `reel capture` codes a raw camera's frames, against
ffmpeg's mjpeg encoder on the same frames, one core each, in one run. PRINTS figures.

Usage: scripts/bench_capture.py [--frames 150] [--frames-dir bench-data/frames-720p]
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.path.join(ROOT, ".build", "release", "reel")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--frames-dir", default=os.path.join(ROOT, "bench-data", "frames-720p"))
    parser.add_argument("--quality", type=int, default=85)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reel-bench-capture-") as work:
        raw = os.path.join(work, "frames.yuyv")
        subprocess.run(["ffmpeg", "-v", "error", "-i", os.path.join(args.frames_dir, "frame-%06d.jpg"),
                        "-frames:v", str(args.frames), "-pix_fmt", "yuyv422", "-f", "rawvideo", raw], check=True)
        frames = os.path.getsize(raw) // (1280 * 720 * 2)
        # Read the file once so both read it from the page cache.
        open(raw, "rb").read()
        reel = []
        ffmpeg = []
        for _ in range(3):
            out = subprocess.run(["taskset", "-c", "0", REEL, "encode-yuyv", raw, "--quality", str(args.quality)],
                                 capture_output=True, text=True, check=True).stdout
            reel.append(float(re.search(r"([\d.]+) ms/frame", out).group(1)))
            start = time.perf_counter()
            subprocess.run(["taskset", "-c", "0", "ffmpeg", "-v", "error", "-threads", "1", "-f", "rawvideo",
                            "-pix_fmt", "yuyv422", "-s", "1280x720", "-i", raw, "-c:v", "mjpeg", "-q:v", "3",
                            "-threads", "1", "-f", "null", "-"], check=True)
            ffmpeg.append((time.perf_counter() - start) * 1000 / frames)
        best_reel, best_ffmpeg = min(reel), min(ffmpeg)
        print(f"YUYV 1280x720 -> JPEG, {frames} frames of {args.frames_dir}, one core (taskset), best of 3")
        print(f"  reel (libjpeg-turbo from planes, q{args.quality}): {best_reel:6.2f} ms/frame  {1000 / best_reel:6.1f} frames/s")
        print(f"  ffmpeg -c:v mjpeg -q:v 3 (whole process):   {best_ffmpeg:6.2f} ms/frame  {1000 / best_ffmpeg:6.1f} frames/s")
        print(f"  ratio reel/ffmpeg speed: {best_ffmpeg / best_reel:.2f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Transcode benchmark: reel against the ffmpeg CLI doing the same work, in one run.

Usage: scripts/bench.py FRAMES_DIR [--preset veryfast] [--crf 23] [--fps 27]

Prints, for the same JPEG frames and the same x264 settings: reel's fps, ffmpeg's
fps and their ratio; the limit (x264 alone, on frames already decoded to raw
yuv420p); JPEG decode ms/frame; peak RSS; output bytes and PSNR for both.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REEL = os.path.join(ROOT, ".build", "release", "reel")


def timed(command):
    """Runs a command; returns (seconds, peak RSS in MB of that command, stdout)."""
    start = time.perf_counter()
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: a wrapper
    # process per command gives each its own figure.
    wrapper = [sys.executable, "-c",
               "import resource,subprocess,sys;"
               "r=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.PIPE,text=True);"
               "sys.stdout.write(r.stdout);sys.stderr.write(r.stderr);"
               "print('@@RSS',resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,file=sys.stderr);"
               "sys.exit(r.returncode)"] + command
    result = subprocess.run(wrapper, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    rss = int(re.search(r"@@RSS (\d+)", result.stderr).group(1)) / 1024
    return seconds, rss, result.stdout


def psnr(video, frames_pattern, fps):
    """Average PSNR (RGB) of a video against its source JPEG frames."""
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-i", video, "-framerate", str(fps), "-i", frames_pattern,
         "-lavfi", "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr", "-f", "null", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    match = re.search(r"PSNR r:[\d.]+ g:[\d.]+ b:[\d.]+ average:([\d.inf]+)", result.stderr)
    return float(match.group(1)) if match else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("frames")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--fps", type=int, default=27)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    files = sorted(glob.glob(os.path.join(args.frames, "*.jpg")))
    count = len(files)
    if count == 0:
        sys.exit(f"no JPEG frames in {args.frames}")
    pattern = os.path.join(args.frames, "frame-%06d.jpg")
    gop = str(args.fps * 2)
    x264 = ["-c:v", "libx264", "-preset", args.preset, "-crf", str(args.crf), "-g", gop,
            "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt470bg"]

    with tempfile.TemporaryDirectory(prefix="reel-bench-") as work:
        reel_out = os.path.join(work, "reel.mp4")
        ffmpeg_out = os.path.join(work, "ffmpeg.mp4")
        raw_out = os.path.join(work, "raw.mp4")
        raw = os.path.join(work, "frames.yuv")

        # The limit: x264 alone, fed frames already decoded and converted to video levels.
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", pattern, "-pix_fmt", "yuv420p",
                        "-color_range", "tv", "-f", "rawvideo", raw], check=True)
        width, height = 1280, 720
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height",
                                "-of", "csv=p=0", files[0]], stdout=subprocess.PIPE, text=True).stdout
        if probe.strip():
            width, height = (int(v) for v in probe.strip().split(","))

        commands = {
            "reel": [REEL, "transcode", args.frames, "-o", reel_out, "--preset", args.preset,
                     "--crf", str(args.crf), "--fps", str(args.fps)],
            "ffmpeg": ["ffmpeg", "-v", "error", "-y", "-framerate", str(args.fps), "-i", pattern] + x264
                      + ["-movflags", "+faststart", ffmpeg_out],
            "raw": ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s",
                    f"{width}x{height}", "-r", str(args.fps), "-i", raw] + x264 + [raw_out],
        }
        # The machine is noisy: interleave the three in each round and keep the median.
        runs = {name: [] for name in commands}
        decode = []
        for round_index in range(args.rounds):
            for name in list(commands)[round_index % 3:] + list(commands)[:round_index % 3]:
                seconds, rss, stdout = timed(commands[name])
                runs[name].append((seconds, rss))
                if name == "reel":
                    decode.append(float(re.search(r"([\d.]+) ms/frame decode", stdout).group(1)))
        reel_seconds = statistics.median(r[0] for r in runs["reel"])
        ffmpeg_seconds = statistics.median(r[0] for r in runs["ffmpeg"])
        raw_seconds = statistics.median(r[0] for r in runs["raw"])
        reel_rss = max(r[1] for r in runs["reel"])
        ffmpeg_rss = max(r[1] for r in runs["ffmpeg"])
        decode_ms = statistics.median(decode)

        reel_fps, ffmpeg_fps, raw_fps = count / reel_seconds, count / ffmpeg_seconds, count / raw_seconds
        reel_psnr, ffmpeg_psnr = psnr(reel_out, pattern, args.fps), psnr(ffmpeg_out, pattern, args.fps)
        cores = os.cpu_count()
        print(f"frames: {count} JPEG {width}x{height} from {args.frames}, x264 preset {args.preset} "
              f"crf {args.crf}, {args.fps} fps, {cores} cores, threads auto for all, "
              f"median of {args.rounds} rounds")
        print(f"reel transcode:        {reel_fps:7.1f} fps  {reel_seconds:6.2f} s  peak RSS {reel_rss:6.1f} MB  "
              f"{os.path.getsize(reel_out):>10} bytes  PSNR {reel_psnr:.2f} dB")
        print(f"ffmpeg from JPEG:      {ffmpeg_fps:7.1f} fps  {ffmpeg_seconds:6.2f} s  peak RSS {ffmpeg_rss:6.1f} MB  "
              f"{os.path.getsize(ffmpeg_out):>10} bytes  PSNR {ffmpeg_psnr:.2f} dB")
        print(f"x264 alone (raw YUV):  {raw_fps:7.1f} fps  {raw_seconds:6.2f} s")
        print(f"reel / ffmpeg:         {reel_fps / ffmpeg_fps:.2f}x")
        print(f"reel / raw-YUV limit:  {reel_fps / raw_fps:.2f}")
        print(f"ffmpeg / raw limit:    {ffmpeg_fps / raw_fps:.2f}")
        print(f"reel JPEG decode:      {decode_ms:.2f} ms/frame (libturbojpeg to YUV planes, range mapped)")
        print(f"PSNR reel - ffmpeg:    {reel_psnr - ffmpeg_psnr:+.2f} dB")


if __name__ == "__main__":
    main()

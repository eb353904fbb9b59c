"""`reel devices` and `reel capture` against the Linux kernel's real vivid V4L2
driver, in a throw-away QEMU VM with no network (Tests/Vivid/run.sh)."""

from __future__ import annotations

import math
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REEL_BIN = Path(os.environ.get("REEL_BIN") or REPO / ".build" / "debug" / "reel")


def ffprobe(path: Path, *entries: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=" + ",".join(entries), "-of", "default=noprint_wrappers=1", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def psnr(a: bytes, b: bytes) -> float:
    assert len(a) == len(b)
    mse = sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def test_capture_from_the_vivid_driver(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT_DIR": str(out), "VM_CPUS": "2"}
    run = subprocess.run([str(REPO / "Tests" / "Vivid" / "run.sh"), str(REPO / "Tests" / "Vivid" / "reel-capture.sh"),
                          str(REEL_BIN), "/usr/bin/v4l2-ctl"], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    devices = (out / "devices.txt").read_text()
    assert re.search(r"/dev/video0: .*driver vivid", devices), devices[:500]
    assert "YUYV" in devices and "640x480" in devices

    frames = sorted((out / "frames").glob("frame-*.jpg"))
    assert len(frames) == 10, frames
    for frame in frames:
        info = ffprobe(frame, "codec_name", "width", "height", "pix_fmt")
        assert info == {"codec_name": "mjpeg", "width": "640", "height": "480", "pix_fmt": "yuvj422p"}, info

    # The JPEG holds what the driver sent: its samples against the raw YUYV frame.
    raw = (out / "raw.yuyv").read_bytes()[-640 * 480 * 2:]
    sent_luma = raw[0::2]
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(frames[-1]), "-pix_fmt", "yuvj422p", "-f", "rawvideo", "-"],
                             capture_output=True, check=True).stdout[:640 * 480]
    value = psnr(decoded, sent_luma)
    assert value > 35, f"luma PSNR {value:.1f} dB against the driver's raw frame"

    log = (out / "capture-server.log").read_text()
    sent = int(re.search(r"sent (\d+)", log).group(1))
    assert sent >= 10, log
    url = (out / "capture-url.txt").read_text().strip()
    name = url.rsplit("/", 1)[1]
    video = out / "videos" / name
    info = ffprobe(video, "codec_name", "nb_read_frames", "width")
    assert info["codec_name"] == "h264" and int(info["nb_read_frames"]) == sent, (info, log)

#!/usr/bin/env bash
# Generates realistic benchmark footage: COUNT JPEG frames frame-000001.jpg ...
# in OUTDIR, like the MJPEG a webcam or browser sends (baseline 4:2:0, full
# range, ffmpeg mjpeg at -q:v 3, about 100-200 KB a frame at 1280x720).
#
#   scripts/make-footage.sh COUNT OUTDIR [WIDTHxHEIGHT]     (default 1280x720)
#
# The picture is a textured still scene (Mandelbrot render, octaves of noise, a
# cellular automaton) filmed by a virtual camera that pans and zooms slowly with
# a little hand shake, a moving test card in front, and temporal sensor noise,
# so x264 sees real motion, detail and noise rather than a flat test pattern.
# All seeds are fixed: the same arguments give the same frames.
#
# Does nothing if OUTDIR already holds exactly COUNT frames of that size;
# otherwise all frame-*.jpg in OUTDIR are replaced. Needs ffmpeg and ffprobe (Debian
# package ffmpeg).
set -euo pipefail

usage() { echo "usage: $0 COUNT OUTDIR [WIDTHxHEIGHT]" >&2; exit 2; }
[[ $# -eq 2 || $# -eq 3 ]] || usage
count=$1 outdir=$2 size=${3:-1280x720}
[[ $count =~ ^[1-9][0-9]*$ ]] || usage
[[ $size =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || usage
w=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]}
((w >= 64 && h >= 64 && w <= 7680 && h <= 4320)) || { echo "make-footage: size out of range: $size" >&2; exit 2; }

for tool in ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || { echo "make-footage: '$tool' not found" >&2; exit 1; }
done

mkdir -p "$outdir"
name() { printf '%s/frame-%06d.jpg' "$outdir" "$1"; }
frames() { find "$outdir" -maxdepth 1 -type f -name 'frame-[0-9][0-9][0-9][0-9][0-9][0-9]*.jpg' "$@"; }

# Up to date? Exactly COUNT frames, the last one present, first and last at WxH.
if [[ -s $(name "$count") ]] && (($(frames | wc -l) == count)); then
  got=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "$(name 1)" 2>/dev/null || true)
  last=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "$(name "$count")" 2>/dev/null || true)
  if [[ $got == "${w}x${h}" && $last == "${w}x${h}" ]]; then
    echo "make-footage: $outdir already holds $count frames at ${w}x${h}"
    exit 0
  fi
fi

# Render into a scratch folder beside the frames, then swap them in, so an
# interrupted run never leaves a set that looks complete.
work=$(mktemp -d "$outdir/.make-footage.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP # so the EXIT trap also cleans up after a signal
ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)

# The scene is 1.5x the frame so the camera can move around in it.
sw=$(((w * 3 / 2 + 1) / 2 * 2)) sh=$(((h * 3 / 2 + 1) / 2 * 2))
mw=$((sw / 2)) mh=$((sh / 2))
cw=$((w * 3 / 10 / 2 * 2)) ch=$((h * 3 / 10 / 2 * 2))

"${ff[@]}" \
  -f lavfi -i "mandelbrot=s=${mw}x${mh}:start_scale=0.05:start_x=-0.7453:start_y=0.1127:maxiter=400:outer=normalized_iteration_count,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
  -f lavfi -i "color=c=0x808080:s=24x14,format=gray,noise=alls=100:allf=u:all_seed=11,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
  -f lavfi -i "color=c=0x808080:s=120x68,format=gray,noise=alls=80:allf=u:all_seed=12,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
  -f lavfi -i "color=c=0x808080:s=480x270,format=gray,noise=alls=30:allf=u:all_seed=13,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
  -f lavfi -i "cellauto=s=480x270:rule=30:seed=14:full=1,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
  -filter_complex "[1][2]blend=all_mode=overlay[n1];[n1][3]blend=all_mode=overlay[n2];[0][n2]blend=all_mode=overlay[a];[a][4]blend=all_mode=overlay:all_opacity=0.12,hue=s=0.6,gblur=sigma=1.5,format=rgb24" \
  -frames:v 1 "$work/scene.png"

# Camera: zoom breathes between 1.5x and 1.9x, pans over the scene on slow
# incommensurate sines, plus a few pixels of high-frequency shake. The test card
# drifts on its own path; noise is new every frame (temporal), stronger in luma.
# The still scene goes through loop once instead of being re-read per frame.
t0=$SECONDS
"${ff[@]}" -i "$work/scene.png" -f lavfi -i "testsrc2=s=${cw}x${ch}:r=30" \
  -filter_complex "[0]loop=loop=-1:size=1,zoompan=z='1.7+0.2*sin(on/151)':x='(iw-iw/zoom)/2*(1+0.85*sin(on/173))+3*sin(on*1.7)+2*sin(on*2.9)':y='(ih-ih/zoom)/2*(1+0.8*sin(on/211+1))+2*sin(on*2.3)+2*sin(on*3.1)':d=1:s=${w}x${h}:fps=30[bg];[bg][1]overlay=x='(W-w)/2+(W-w)/2.2*sin(n/67)':y='(H-h)/2+(H-h)/3*sin(n/89)':shortest=1,format=yuv444p,noise=c0s=12:c0f=t+u:c1s=4:c1f=t+u:c2s=4:c2f=t+u:all_seed=4242,format=yuvj420p" \
  -frames:v "$count" -c:v mjpeg -q:v 3 -f image2 "$work/frame-%06d.jpg"

made=$(find "$work" -maxdepth 1 -name 'frame-*.jpg' | wc -l)
((made == count)) || { echo "make-footage: ffmpeg wrote $made of $count frames" >&2; exit 1; }

frames -delete
find "$work" -maxdepth 1 -name 'frame-*.jpg' -exec mv -t "$outdir" {} +

bytes=$(frames -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
echo "make-footage: $count frames at ${w}x${h} in $outdir, $((bytes / count / 1024)) KB/frame mean, $((SECONDS - t0)) s"

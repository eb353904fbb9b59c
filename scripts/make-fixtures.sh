#!/usr/bin/env bash
# Regenerates the JPEG test fixtures in fixtures/ at the repository root.
#
#   scripts/make-fixtures.sh
#
# Content is synthetic but "real-looking": a still scene built from a Mandelbrot
# render, octaves of upscaled noise and a cellular automaton, filmed by a
# slowly panning/zooming, slightly shaky virtual camera, with a moving test card
# and temporal sensor noise on top. Every random source has a fixed seed, so a
# rerun with the same tool versions reproduces the fixtures byte for byte.
#
# Needs (Debian packages): ffmpeg (ffmpeg, ffprobe), libjpeg-turbo-progs (cjpeg,
# djpeg), imagemagick (convert, identify), plus coreutils and mawk.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/fixtures

for tool in ffmpeg ffprobe cjpeg djpeg convert identify od dd; do
  command -v "$tool" >/dev/null || { echo "make-fixtures: '$tool' not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP # so the EXIT trap also cleans up after a signal

ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)
# No encoder tags or timestamps in anything ffmpeg writes.
bitexact=(-fflags +bitexact -flags:v +bitexact)

die() { echo "make-fixtures: $*" >&2; exit 1; }

# render W H COUNT PREFIX: COUNT consecutive RGB frames PREFIX-1.ppm ... of
# moving, textured, noisy footage at WxH. The camera zooms 2.2x-2.6x into the
# scene and the result is softened a little, like webcam optics; that keeps a
# 720p 4:2:0 frame near 100 KB at quality 85 (scripts/make-footage.sh is the
# same scene, sharper and noisier, for benchmarks).
render() {
  local w=$1 h=$2 count=$3 prefix=$4
  # The scene is 1.5x the frame, so the camera can pan and zoom around in it.
  local sw=$(((w * 3 / 2 + 1) / 2 * 2)) sh=$(((h * 3 / 2 + 1) / 2 * 2))
  local mw=$((sw / 2)) mh=$((sh / 2))
  local cw=$((w * 3 / 10 / 2 * 2)) ch=$((h * 3 / 10 / 2 * 2))
  local scene=$work/scene-${w}x${h}.png
  if [[ ! -s $scene ]]; then
    "${ff[@]}" \
      -f lavfi -i "mandelbrot=s=${mw}x${mh}:start_scale=0.05:start_x=-0.7453:start_y=0.1127:maxiter=400:outer=normalized_iteration_count,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
      -f lavfi -i "color=c=0x808080:s=24x14,format=gray,noise=alls=100:allf=u:all_seed=11,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
      -f lavfi -i "color=c=0x808080:s=120x68,format=gray,noise=alls=80:allf=u:all_seed=12,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
      -f lavfi -i "color=c=0x808080:s=480x270,format=gray,noise=alls=20:allf=u:all_seed=13,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
      -f lavfi -i "cellauto=s=480x270:rule=30:seed=14:full=1,format=gbrp,scale=${sw}:${sh}:flags=bicubic" \
      -filter_complex "[1][2]blend=all_mode=overlay[n1];[n1][3]blend=all_mode=overlay[n2];[0][n2]blend=all_mode=overlay[a];[a][4]blend=all_mode=overlay:all_opacity=0.08,hue=s=0.6,gblur=sigma=2,format=rgb24" \
      -frames:v 1 "${bitexact[@]}" "$scene"
  fi
  "${ff[@]}" -i "$scene" -f lavfi -i "testsrc2=s=${cw}x${ch}:r=30" \
    -filter_complex "[0]loop=loop=-1:size=1,zoompan=z='2.4+0.2*sin(on/151)':x='(iw-iw/zoom)/2*(1+0.85*sin(on/173))+3*sin(on*1.7)+2*sin(on*2.9)':y='(ih-ih/zoom)/2*(1+0.8*sin(on/211+1))+2*sin(on*2.3)+2*sin(on*3.1)':d=1:s=${w}x${h}:fps=30[bg];[bg][1]overlay=x='(W-w)/2+(W-w)/2.2*sin(n/67)':y='(H-h)/2+(H-h)/3*sin(n/89)':shortest=1,format=yuv444p,noise=c0s=6:c0f=t+u:c1s=2:c1f=t+u:c2s=2:c2f=t+u:all_seed=4242,gblur=sigma=0.7,format=rgb24" \
    -frames:v "$count" -c:v ppm -f image2 "${bitexact[@]}" "$prefix-%d.ppm"
}

# sos_scan_start FILE: byte offset of the first entropy-coded byte after SOS.
sos_scan_start() {
  od -An -v -tu1 -w1 "$1" | awk '
    { b[NR - 1] = $1 + 0 }
    END {
      for (i = 0; i + 3 < NR; i++)
        if (b[i] == 255 && b[i + 1] == 218) { print i + 2 + b[i + 2] * 256 + b[i + 3]; exit }
      exit 1
    }'
}

t=$work/new
mkdir -p "$t"

# --- moving footage at the sizes we need ------------------------------------
render 1280 720 3 "$work/720"
render 640 480 1 "$work/480"
render 1920 1080 1 "$work/1080"
render 641 479 1 "$work/odd"
render 320 240 1 "$work/240"

q=85
for i in 1 2 3; do
  cjpeg -quality $q -sample 2x2 -optimize -outfile "$t/frame-1280x720-420-$i.jpg" "$work/720-$i.ppm"
done
cjpeg -quality $q -sample 2x1 -optimize -outfile "$t/webcam-640x480-422.jpg" "$work/480-1.ppm"
cjpeg -quality $q -sample 2x2 -optimize -outfile "$t/full-1920x1080-420.jpg" "$work/1080-1.ppm"
cjpeg -quality $q -sample 1x1 -optimize -outfile "$t/frame-1280x720-444.jpg" "$work/720-2.ppm"
cjpeg -quality $q -sample 1x2 -optimize -outfile "$t/frame-1280x720-440.jpg" "$work/720-2.ppm"
cjpeg -quality $q -grayscale -optimize -outfile "$t/gray-1280x720.jpg" "$work/720-2.ppm"
cjpeg -quality $q -sample 2x2 -progressive -outfile "$t/progressive-1280x720.jpg" "$work/720-2.ppm"
cjpeg -quality $q -sample 2x2 -optimize -outfile "$t/odd-641x479.jpg" "$work/odd-1.ppm"

# CMYK: libjpeg writes the Adobe APP14 marker for 4-component CMYK output.
convert "$work/240-1.ppm" -colorspace CMYK -sampling-factor 1x1 -quality $q -strip "$t/cmyk-320x240.jpg"

# --- broken inputs -------------------------------------------------------------
src=$t/frame-1280x720-420-1.jpg
head -c $(($(stat -c %s "$src") / 2)) "$src" >"$t/truncated.jpg"

cjpeg -quality $q -sample 2x2 -outfile "$t/corrupt-scan.jpg" "$work/240-1.ppm"
scan=$(sos_scan_start "$t/corrupt-scan.jpg") || die "no SOS marker in corrupt-scan.jpg"
size=$(stat -c %s "$t/corrupt-scan.jpg")
# Overwrite 128 bytes in the middle of the scan with a fixed pattern holding no
# 0xFF (so no marker appears): the Huffman decoder loses step and the scan ends
# early, which libjpeg-turbo reports even on its fast in-memory path (a run of
# bits that only breaks a Huffman code, such as all ones, it silently decodes).
for _ in $(seq 32); do printf '\x12\x34\x56\x78'; done >"$work/garbage"
dd if="$work/garbage" of="$t/corrupt-scan.jpg" bs=1 seek=$((scan + (size - 2 - scan) / 2)) conv=notrunc status=none

"${ff[@]}" -f lavfi -i "testsrc2=s=160x120:r=1" -frames:v 1 -c:v png "${bitexact[@]}" "$t/not-a-jpeg.png"
: >"$t/empty.jpg"

# --- colour-accuracy references (4:4:4, quality 100) ------------------------------
# Horizontal ramp: column x has R=G=B=round(x*255/(W-1)), 0 at the left, 255 at the right.
"${ff[@]}" -f lavfi -i "color=c=black:s=1280x720:r=1,format=gbrp,geq=r='round(X*255/(W-1))':g='round(X*255/(W-1))':b='round(X*255/(W-1))',format=rgb24" \
  -frames:v 1 -c:v ppm -f image2 "${bitexact[@]}" "$work/ramp.ppm"
cjpeg -quality 100 -sample 1x1 -optimize -outfile "$t/gray-ramp-1280x720.jpg" "$work/ramp.ppm"
# Bars i=0..7 (160 px each): white yellow cyan green magenta red blue black.
# R is on for i in {0,1,4,5}, G for i<4, B for even i.
bar='floor(X*8/W)'
"${ff[@]}" -f lavfi -i "color=c=black:s=1280x720:r=1,format=gbrp,geq=r='255*(1-mod(floor($bar/2),2))':g='255*lt($bar,4)':b='255*(1-mod($bar,2))',format=rgb24" \
  -frames:v 1 -c:v ppm -f image2 "${bitexact[@]}" "$work/bars.ppm"
cjpeg -quality 100 -sample 1x1 -optimize -outfile "$t/colour-bars-1280x720.jpg" "$work/bars.ppm"

cat >"$t/README.md" <<'EOF'
# JPEG fixtures

Generated by `scripts/make-fixtures.sh` (deterministic; rerun it to rebuild). Frames are
synthetic moving footage (Mandelbrot/noise/cellular-automaton scene, panning shaky camera,
moving test card, temporal noise) encoded with `cjpeg -quality 85` unless noted.

- `frame-1280x720-420-1.jpg`, `-2.jpg`, `-3.jpg`: three consecutive 720p frames, baseline 4:2:0; the normal path and a short clip.
- `webcam-640x480-422.jpg`: 640x480 baseline 4:2:2 (YUYV-style webcam subsampling); needs a 4:2:2 to 4:2:0 conversion.
- `full-1920x1080-420.jpg`: 1080p baseline 4:2:0; the larger common size.
- `frame-1280x720-444.jpg`: 720p 4:4:4 (no chroma subsampling).
- `frame-1280x720-440.jpg`: 720p 4:4:0 (vertical-only chroma subsampling, `cjpeg -sample 1x2`); an unusual layout.
- `gray-1280x720.jpg`: 720p grayscale, a single component.
- `progressive-1280x720.jpg`: 720p progressive 4:2:0 (SOF2).
- `odd-641x479.jpg`: 4:2:0 with odd width and height; chroma rounding and encoder size constraints.
- `cmyk-320x240.jpg`: 4-component CMYK with an Adobe APP14 marker (ImageMagick); expected to be rejected or converted.
- `truncated.jpg`: `frame-1280x720-420-1.jpg` cut to half its bytes (no EOI); a decode error or warning.
- `corrupt-scan.jpg`: valid 320x240 4:2:0 headers and EOI, but 128 bytes in the middle of the scan overwritten (the scan ends early); libjpeg warns "Corrupt JPEG data".
- `not-a-jpeg.png`: a 160x120 PNG; must be rejected as not a JPEG.
- `empty.jpg`: zero bytes; must be rejected.
- `gray-ramp-1280x720.jpg`: horizontal gray ramp, column x = round(x*255/1279), 4:4:4, quality 100; for range/level accuracy (compare mean Y per column after encode/decode).
- `colour-bars-1280x720.jpg`: 8 vertical 160-px bars white, yellow, cyan, green, magenta, red, blue, black at full 0/255 levels, 4:4:4, quality 100; for colour-matrix accuracy.
- `README.md`: this list.
EOF

# --- verification ----------------------------------------------------------------
# check FILE EXPECTED: EXPECTED is "WxH sampling colourspace interlace" from identify.
check() {
  local f=$t/$1 want=$2 got
  got=$(identify -format '%wx%h %[jpeg:sampling-factor] %[colorspace] %[interlace]' "$f" 2>/dev/null) ||
    die "$1: identify failed"
  [[ $got == "$want" ]] || die "$1: expected '$want', got '$got'"
  ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$f" | grep -qx mjpeg ||
    die "$1: ffprobe does not see an MJPEG image"
}
for i in 1 2 3; do check "frame-1280x720-420-$i.jpg" "1280x720 2x2,1x1,1x1 sRGB None"; done
check webcam-640x480-422.jpg "640x480 2x1,1x1,1x1 sRGB None"
check full-1920x1080-420.jpg "1920x1080 2x2,1x1,1x1 sRGB None"
check frame-1280x720-444.jpg "1280x720 1x1,1x1,1x1 sRGB None"
check frame-1280x720-440.jpg "1280x720 1x2,1x1,1x1 sRGB None"
check gray-1280x720.jpg "1280x720 1x1 Gray None"
check progressive-1280x720.jpg "1280x720 2x2,1x1,1x1 sRGB JPEG"
check odd-641x479.jpg "641x479 2x2,1x1,1x1 sRGB None"
check cmyk-320x240.jpg "320x240 1x1,1x1,1x1,1x1 CMYK None"
check gray-ramp-1280x720.jpg "1280x720 1x1,1x1,1x1 sRGB None"
check colour-bars-1280x720.jpg "1280x720 1x1,1x1,1x1 sRGB None"

grep -q Adobe "$t/cmyk-320x240.jpg" || die "cmyk-320x240.jpg: no Adobe marker"

# The frames must really differ (motion), and the ramp and bars must hold their levels.
cmp -s <(djpeg -pnm "$t/frame-1280x720-420-1.jpg") <(djpeg -pnm "$t/frame-1280x720-420-2.jpg") &&
  die "frames 1 and 2 are identical"
level() { convert "$t/$1" -crop "$2" +repage -format '%[fx:round(255*mean.r)] %[fx:round(255*mean.g)] %[fx:round(255*mean.b)]' info:; }
# expect_level FILE CROP "R G B": mean of the crop within 2 levels of R G B (JPEG's
# YCbCr round trip moves pure colours by a level or so even at quality 100).
expect_level() {
  local got
  got=$(level "$1" "$2")
  awk -v got="$got" -v want="$3" 'BEGIN {
    split(got, g); split(want, w)
    for (i = 1; i <= 3; i++) if (g[i] - w[i] > 2 || w[i] - g[i] > 2) exit 1
  }' || die "$1 at $2: expected about $3, got $got"
}
expect_level gray-ramp-1280x720.jpg 1x720+0+0 "0 0 0"
expect_level gray-ramp-1280x720.jpg 1x720+640+0 "128 128 128"
expect_level gray-ramp-1280x720.jpg 1x720+1279+0 "255 255 255"
want_bars=("255 255 255" "255 255 0" "0 255 255" "0 255 0" "255 0 255" "255 0 0" "0 0 255" "0 0 0")
for i in "${!want_bars[@]}"; do
  expect_level colour-bars-1280x720.jpg "120x720+$((i * 160 + 20))+0" "${want_bars[$i]}"
done

# Broken files must stay broken in the intended way.
[[ $(tail -c 2 "$t/truncated.jpg" | od -An -tx1 | tr -d ' ') != ffd9 ]] || die "truncated.jpg ends in EOI"
# djpeg exits 2 on a warning, so capture its message rather than pipe it.
msg=$(djpeg "$t/truncated.jpg" 2>&1 >/dev/null || true)
[[ $msg == *'Premature end of JPEG file'* ]] ||
  die "djpeg does not report truncated.jpg as cut short"
[[ $(tail -c 2 "$t/corrupt-scan.jpg" | od -An -tx1 | tr -d ' ') == ffd9 ]] || die "corrupt-scan.jpg lost its EOI"
msg=$(djpeg "$t/corrupt-scan.jpg" 2>&1 >/dev/null || true)
[[ $msg == *'Corrupt JPEG data'* ]] ||
  die "djpeg does not report corrupt-scan.jpg as corrupt"
tjbench "$t/corrupt-scan.jpg" -yuv -nowrite -stoponwarning -benchtime 0.01 -warmup 0 2>&1 | grep -q 'Corrupt JPEG data' ||
  die "the TurboJPEG API does not report corrupt-scan.jpg as corrupt"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$t/not-a-jpeg.png" | grep -qx png ||
  die "not-a-jpeg.png is not a PNG"
[[ ! -s $t/empty.jpg ]] || die "empty.jpg is not empty"

# --- install -------------------------------------------------------------------------
mkdir -p "$out"
names=(
  frame-1280x720-420-1.jpg frame-1280x720-420-2.jpg frame-1280x720-420-3.jpg
  webcam-640x480-422.jpg full-1920x1080-420.jpg frame-1280x720-444.jpg
  frame-1280x720-440.jpg gray-1280x720.jpg progressive-1280x720.jpg odd-641x479.jpg
  cmyk-320x240.jpg truncated.jpg corrupt-scan.jpg not-a-jpeg.png empty.jpg
  gray-ramp-1280x720.jpg colour-bars-1280x720.jpg README.md
)
for n in "${names[@]}"; do mv -f "$t/$n" "$out/$n"; done

# --- table ------------------------------------------------------------------------------
describe() {
  local f=$out/$1
  case $1 in
    *.md) echo "text" ;;
    empty.jpg) echo "empty" ;;
    truncated.jpg | corrupt-scan.jpg)
      local msg
      msg=$(djpeg "$f" 2>&1 >/dev/null || true)
      echo "broken: ${msg%%$'\n'*}" ;;
    *.png) ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$f" | tr , ' ' ;;
    *)
      local fmt
      fmt=$(ffprobe -v error -show_entries stream=width,height,pix_fmt -of csv=p=0 "$f" | tr , ' ')
      echo "$fmt $(identify -format '%[jpeg:sampling-factor] %[colorspace] q%Q %[interlace]' "$f")" ;;
  esac
}
total=0
printf '%-28s %-58s %9s\n' name format bytes
for n in "${names[@]}"; do
  bytes=$(stat -c %s "$out/$n")
  total=$((total + bytes))
  printf '%-28s %-58.58s %9d\n' "$n" "$(describe "$n")" "$bytes"
done
printf '%-28s %-58s %9d\n' total "" "$total"

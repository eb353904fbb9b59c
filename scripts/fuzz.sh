#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (AddressSanitizer, coverage of the
# project's own Swift code) and runs each for FUZZ_SECONDS (default 60) on a
# corpus seeded from fixtures/. Prints executions and time per target; exits
# non-zero if any target crashed (its input is kept in fuzz-corpus/crashes/).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
ROOT=$PWD
WORK=$ROOT/fuzz-corpus
RUNTIME=$(ls "$(dirname "$(dirname "$(command -v swift)")")"/lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-*.a | head -1)

# SwiftPM does not notice files added to a path dependency (Reel, for Fuzz/):
# drop the last build plan so it is made anew.
rm -f "$ROOT/.build-fuzz/debug.yaml" "$ROOT/.build-fuzz/debug/description.json"
# libFuzzer's own main cannot be linked (SwiftPM gives every executable one):
# the targets run its driver, linked from the no-main runtime.
(cd Fuzz && swift build --scratch-path "$ROOT/.build-fuzz" \
    -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    -Xlinker "$RUNTIME" -Xlinker -lstdc++ 2>&1 | { grep -v "Cannot export local symbol" || true; })
BIN=$ROOT/.build-fuzz/debug

seed() {  # seed <target> <files...>
    local target=$1; shift
    mkdir -p "$WORK/$target"
    cp "$@" "$WORK/$target/"
}
# Inputs that once crashed a target stay in its corpus (Fuzz/Regressions/<target>/).
for found in Fuzz/Regressions/*/; do seed "$(basename "$found")" "$found"*; done
seed FuzzFrameDecoder fixtures/*.jpg
seed FuzzCameraJPEG fixtures/*.jpg
mkdir -p "$WORK/FuzzMultipart" "$WORK/FuzzSpoolTail" "$WORK/crashes"
# A form as the original clients send it, its first line the Content-Type.
{ printf 'multipart/form-data; boundary=reelboundary\r\n--reelboundary\r\nContent-Disposition: form-data; name="image"; filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
  head -c 3000 fixtures/frame-1280x720-420-1.jpg
  printf '\r\n--reelboundary--\r\n'; } > "$WORK/FuzzMultipart/form"
# A spool as the server writes it: fragmented MP4, half-second fragments.
if [ ! -s "$WORK/FuzzSpoolTail/spool.mp4" ]; then
    ffmpeg -v error -y -loop 1 -i fixtures/frame-1280x720-420-1.jpg -frames:v 40 -vf scale=160:90 -r 27 \
        -c:v libx264 -preset ultrafast -movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 500000 \
        -f mp4 "$WORK/FuzzSpoolTail/spool.mp4"
fi

failed=0
summary=()
for target in FuzzFrameDecoder FuzzCameraJPEG FuzzMultipart FuzzSpoolTail; do
    log=$WORK/$target.log
    echo "== $target: $SECONDS_EACH s"
    if SWIFT_BACKTRACE=enable=no "$BIN/$target" "$WORK/$target" -max_total_time="$SECONDS_EACH" \
        -max_len=262144 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$WORK/crashes/$target-" > "$log" 2>&1; then
        result=ok
    else
        result=CRASH
        failed=1
        grep -E "ERROR|Fatal error|SUMMARY" "$log" | head -5 || true
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    time=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    summary+=("$(printf '%-17s %-5s %10s executions in %4s s' "$target" "$result" "${runs:-?}" "${time:-$SECONDS_EACH}")")
done
echo "== fuzzing"
printf '%s\n' "${summary[@]}"
exit $failed

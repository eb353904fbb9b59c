#!/usr/bin/env bash
# Installs the Debian packages Reel builds and tests with, when any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    pkg-config
    libavcodec-dev libavformat-dev libswscale-dev libavutil-dev   # H.264 encode, MP4, scaling
    libturbojpeg0-dev                                             # JPEG decode to YUV planes
    libcurl4-openssl-dev                                          # HTTP client for storage uploads
    libv4l-dev                                                    # V4L2 cameras through libv4l2
    ffmpeg                                                        # ffprobe and reference encodes in tests
    libjpeg-turbo-progs imagemagick                               # cjpeg/jpegtran and convert for fixtures
    chromium chromium-driver                                      # the web page's tests, in a real browser
    curl                                                          # tests fetch from the Supabase stand-in
    systemd                                                       # systemd-analyze verify on the installed units
)

# Python test tools: pip where it works, Debian's packages where pip may not
# install into the system Python (PEP 668).
python_ready() { python3 -c 'import requests, pytest, pytest_timeout, selenium, prometheus_client' 2>/dev/null; }
if ! python_ready; then
    python3 -m pip install --quiet --disable-pip-version-check -r Tests/Live/requirements.txt 2>/dev/null ||
        packages+=(python3-requests python3-pytest python3-pytest-timeout python3-selenium python3-prometheus-client)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

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
    postgresql-15                                                 # the catalog's tests against a real PostgreSQL
    nginx-light                                                   # the cluster's tests behind the shipped nginx configuration
)

# Python test tools: pip where it works (with --break-system-packages where PEP 668
# guards the system Python), else Debian's packages and pip for what Debian lacks.
python_ready() { python3 -c 'import requests, pytest, pytest_timeout, selenium, prometheus_client, schemathesis' 2>/dev/null; }
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null; }
if ! python_ready; then
    pip_install -r Tests/Live/requirements.txt ||
        pip_install --break-system-packages -r Tests/Live/requirements.txt ||
        packages+=(python3-pip python3-requests python3-pytest python3-pytest-timeout python3-selenium python3-prometheus-client)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "Installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# schemathesis has no Debian package: after the Debian fallback, pip brings it into
# the system Python (which PEP 668 guards).
python_ready || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
    "$(grep -i '^schemathesis' Tests/Live/requirements.txt)"

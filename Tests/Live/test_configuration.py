"""Every setting is parsed strictly, whichever source gives it: a flag, the
environment, or a `.env` file in the working folder.

A value that does not parse or is out of range stops `reel serve` with exit
status 78 (EX_CONFIG) and one line that names the flag, the variable, the
value given and the form expected. A `REEL_*` variable that names no setting
is warned about, with the setting it probably meant.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import requests

from conftest import REEL_BIN, free_port, poll

EX_CONFIG = 78

# flag, variable, bad value, words of the form the message must show
BAD_VALUES = [
    ("--port", "REEL_PORT", "abc", "a port number from 1 to 65535"),
    ("--port", "REEL_PORT", "70000", "a port number from 1 to 65535"),
    ("--port", "REEL_PORT", "0", "a port number from 1 to 65535"),
    ("--public-url", "REEL_PUBLIC_URL", "cam.example.com", "an http:// or https:// URL"),
    ("--max-frame-bytes", "REEL_MAX_FRAME_BYTES", "big", "a size above 0 and at most 1G"),
    ("--max-frame-bytes", "REEL_MAX_FRAME_BYTES", "0", "a size above 0"),
    ("--max-frame-size", "REEL_MAX_FRAME_SIZE", "12x", "WIDTHxHEIGHT"),
    ("--max-frames", "REEL_MAX_FRAMES", "many", "a whole number from 1 to 1000000000"),
    ("--max-frames", "REEL_MAX_FRAMES", "-1", "a whole number from 1 to 1000000000"),
    ("--max-seconds", "REEL_MAX_SECONDS", "0", "a whole number of seconds from 1 to 31536000"),
    ("--max-seconds", "REEL_MAX_SECONDS", "9223372036854775807", "a whole number of seconds from 1 to 31536000"),
    ("--max-recordings", "REEL_MAX_RECORDINGS", "0", "a whole number, 1 or more"),
    ("--idle-seconds", "REEL_IDLE_SECONDS", "-5", "a number of seconds above 0"),
    ("--idle-seconds", "REEL_IDLE_SECONDS", "1e21", "a number of seconds above 0 and at most a day"),
    ("--idle-seconds", "REEL_IDLE_SECONDS", "soon", "a number of seconds above 0"),
    ("--fps", "REEL_FPS", "fast", "a whole number of frames per second from 1 to 240"),
    ("--fps", "REEL_FPS", "241", "a whole number of frames per second from 1 to 240"),
    ("--size", "REEL_SIZE", "12x", "WIDTHxHEIGHT, even numbers from 16 to 8192, e.g. 1280x720"),
    ("--size", "REEL_SIZE", "641x360", "WIDTHxHEIGHT, even numbers from 16 to 8192, e.g. 1280x720"),
    ("--size", "REEL_SIZE", "8x8", "WIDTHxHEIGHT, even numbers from 16 to 8192, e.g. 1280x720"),
    ("--preset", "REEL_PRESET", "warp", "auto or one of ultrafast, superfast, veryfast"),
    ("--preset-max", "REEL_PRESET_MAX", "turbo", "one of ultrafast, superfast, veryfast"),
    ("--preset-min", "REEL_PRESET_MIN", "slow", "one of ultrafast, superfast, veryfast (no slower than --preset-max veryfast)"),
    ("--encoder-cores", "REEL_ENCODER_CORES", "-1", "a number of cores above 0, e.g. 1.5"),
    ("--crf", "REEL_CRF", "abc", "a whole number from 0 (best) to 51"),
    ("--crf", "REEL_CRF", "52", "a whole number from 0 (best) to 51"),
    ("--threads", "REEL_THREADS", "-1", "a whole number from 0"),
    ("--threads", "REEL_THREADS", "2", "1, which --preset auto needs: it encodes each recording on one thread"),
    ("--fit", "REEL_FIT", "squash", "one of fit, fill, stretch"),
    ("--timing", "REEL_TIMING", "late", "one of constant, arrival"),
    ("--range", "REEL_RANGE", "tv", "one of limited, full"),
    ("--retry-max-seconds", "REEL_RETRY_MAX_SECONDS", "0.5", "a number of seconds from 1 to 86400"),
    ("--min-free", "REEL_MIN_FREE", "lots", "a size up to 1024T, e.g. 1G, 512M"),
    ("--min-free", "REEL_MIN_FREE", "8E", "a size up to 1024T, e.g. 1G, 512M"),
    ("--connection-idle-seconds", "REEL_CONNECTION_IDLE_SECONDS", "0", "a number of seconds above 0"),
    ("--connection-idle-seconds", "REEL_CONNECTION_IDLE_SECONDS", "1e10", "a number of seconds above 0 and at most a day"),
    ("--max-connections", "REEL_MAX_CONNECTIONS", "none", "a whole number, 1 or more"),
    ("--log-level", "REEL_LOG_LEVEL", "loud", "one of trace, debug, info"),
    ("--log-format", "REEL_LOG_FORMAT", "xml", "one of text, json"),
    ("--supabase-url", "SUPABASE_URL", "ftp://storage", "an http:// or https:// URL"),
    ("--bucket-public", "REEL_BUCKET_PUBLIC", "maybe", "true or false"),
    ("--signed-url-seconds", "REEL_SIGNED_URL_SECONDS", "soon", "a whole number of seconds, 1 or more"),
    ("--resumable-bytes", "REEL_RESUMABLE_BYTES", "big", "a size above 0"),
    ("--max-pending", "REEL_MAX_PENDING", "-1", "a whole number, 0 or more"),
    ("--keep-days", "REEL_KEEP_DAYS", "abc", "a number of days above 0, e.g. 30 or 0.5"),
    ("--keep-days", "REEL_KEEP_DAYS", "0", "a number of days above 0, e.g. 30 or 0.5"),
    ("--keep-days", "REEL_KEEP_DAYS", "-3", "a number of days above 0, e.g. 30 or 0.5"),
    ("--keep-bytes", "REEL_KEEP_BYTES", "lots", "a size above 0, e.g. 500G, 20G, 800M or a number of bytes"),
    ("--keep-bytes", "REEL_KEEP_BYTES", "0", "a size above 0, e.g. 500G, 20G, 800M or a number of bytes"),
    ("--keep-bytes", "REEL_KEEP_BYTES", "12Q", "a size above 0, e.g. 500G, 20G, 800M or a number of bytes"),
    ("--webhook-url", "REEL_WEBHOOK_URL", "ftp://x", "an http:// or https:// URL"),
    ("--webhook-url", "REEL_WEBHOOK_URL", "notaurl", "an http:// or https:// URL"),
]

# Settings that only mean something with Supabase configured get the rest of it from here.
SUPABASE = {"SUPABASE_URL": "http://127.0.0.1:9", "SUPABASE_KEY": "key", "BUCKET_NAME": "videos"}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("REEL_") and k not in ("SUPABASE_URL", "SUPABASE_KEY", "BUCKET_NAME")}


def run_serve(tmp_path, args: list[str], env: dict[str, str], dotenv: str | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess:
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    base = ["--host", "127.0.0.1", "--storage-dir", str(tmp_path / "videos"), "--spool-dir", str(tmp_path / "spool"),
            "--recordings-dir", str(tmp_path / "recordings")]
    if "--port" not in args and "REEL_PORT" not in env and "REEL_PORT" not in (dotenv or ""):
        base += ["--port", str(free_port())]
    try:
        return subprocess.run([str(REEL_BIN), "serve", *base, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reel serve {' '.join(args)} took the value and ran (no exit within {timeout} s)")


@pytest.mark.parametrize("source", ["flag", "environment", ".env"])
@pytest.mark.parametrize("flag, variable, value, form", BAD_VALUES)
def test_a_bad_value_stops_the_start_naming_flag_variable_value_and_form(tmp_path, source, flag, variable, value,
                                                                          form):
    env = clean_env()
    if variable in ("REEL_BUCKET_PUBLIC", "REEL_SIGNED_URL_SECONDS", "REEL_RESUMABLE_BYTES"):
        env.update(SUPABASE)
    args, dotenv = [], None
    if source == "flag":
        args = [flag, value]
    elif source == "environment":
        env[variable] = value
    else:
        dotenv = f"# settings of this camera\n{variable}={value}\n"
    result = run_serve(tmp_path, args, env, dotenv)
    assert result.returncode == EX_CONFIG, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0] == f'error: {flag} ({variable}): "{value}" is not {form}' or \
        lines[0].startswith(f'error: {flag} ({variable}): "{value}" is not {form}'), lines[0]


def test_supabase_needs_all_three_names(tmp_path):
    env = clean_env()
    env["SUPABASE_URL"] = "http://127.0.0.1:9"
    result = run_serve(tmp_path, [], env)
    assert result.returncode == EX_CONFIG
    assert "--supabase-key (SUPABASE_KEY): is missing: Supabase Storage needs SUPABASE_URL, SUPABASE_KEY and " \
           "BUCKET_NAME" in result.stderr


def test_flags_win_over_the_environment_which_wins_over_dotenv(tmp_path):
    port_flag, port_env, port_file = free_port(), free_port(), free_port()
    env = clean_env()
    env["REEL_PORT"] = str(port_env)
    (tmp_path / ".env").write_text(f"REEL_PORT={port_file}\nREEL_FPS=15\n")
    base = ["--host", "127.0.0.1", "--storage-dir", str(tmp_path / "videos"), "--spool-dir", str(tmp_path / "spool"),
            "--recordings-dir", str(tmp_path / "recordings"), "--min-free", "64M"]
    for args, port in ((["--port", str(port_flag)], port_flag), ([], port_env)):
        proc = subprocess.Popen([str(REEL_BIN), "serve", *base, *args], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            poll(lambda: _healthy(port) or proc.poll() is not None, 30, what=f"reel serve on port {port}")
            assert proc.poll() is None, proc.stdout.read()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    del env["REEL_PORT"]
    proc = subprocess.Popen([str(REEL_BIN), "serve", *base], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        poll(lambda: _healthy(port_file) or proc.poll() is not None, 30, what=f"reel serve on .env's port {port_file}")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("source", ["environment", ".env"])
def test_an_unknown_reel_variable_is_warned_about_with_what_was_meant(tmp_path, source):
    env = clean_env()
    dotenv = None
    if source == "environment":
        env["REEL_MAX_FRAME"] = "10"
    else:
        dotenv = "export REEL_MAX_FRAME=10\n"
    port = free_port()
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    proc = subprocess.Popen(
        [str(REEL_BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--storage-dir", str(tmp_path / "v"),
         "--spool-dir", str(tmp_path / "s"), "--recordings-dir", str(tmp_path / "r"), "--min-free", "64M"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        poll(lambda: _healthy(port) or proc.poll() is not None, 30, what="reel serve")
        assert proc.poll() is None
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "REEL_MAX_FRAME is not a setting of reel and is ignored (did you mean REEL_MAX_FRAMES?)" in output, output


def test_a_value_that_looks_like_a_flag_is_read_as_the_value(tmp_path):
    result = run_serve(tmp_path, ["--idle-seconds", "-5"], clean_env())
    assert result.returncode == EX_CONFIG
    assert 'error: --idle-seconds (REEL_IDLE_SECONDS): "-5" is not a number of seconds above 0' in result.stderr


# --- what is checked at start, before any request --------------------------------


def test_a_storage_folder_that_is_a_file_stops_the_start_naming_it(tmp_path):
    (tmp_path / "videos").write_text("not a folder")
    result = run_serve(tmp_path, [], clean_env())
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: the storage folder {tmp_path / 'videos'} is a file, not a folder; "
        "give another with --storage-dir (REEL_STORAGE_DIR)")


def test_a_read_only_folder_stops_the_start_naming_it(tmp_path, tmpfs):
    disk = tmpfs("1m")
    (disk / "spool").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, timeout=30)
    result = run_serve(tmp_path, ["--spool-dir", str(disk / "spool")], clean_env())
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: the spool folder {disk / 'spool'} is not writable (read-only file system); give another with "
        "--spool-dir (REEL_SPOOL_DIR), or let the server's user write it")
    result = run_serve(tmp_path, ["--recordings-dir", str(disk / "new" / "recordings")], clean_env())
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"error: the recordings folder {disk / 'new' / 'recordings'} cannot be created (")


def test_a_port_in_use_is_named_with_what_to_do(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(tmp_path, ["--port", str(port)], clean_env())
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use by another program; "
        "stop it or choose another with --port (REEL_PORT)")


@pytest.mark.parametrize("args, shows", [
    (["--help"], "SUBCOMMANDS:"),
    (["-h"], "SUBCOMMANDS:"),
    (["serve", "--help"], "--preset-max"),
    (["help", "transcode"], "USAGE: reel transcode"),
    (["capture", "--help"], "--server"),
])
def test_help_is_printed_for_every_command(args, shows):
    result = subprocess.run([str(REEL_BIN), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert shows in result.stdout and result.stderr == "", (result.stdout[:500], result.stderr)


def test_version_is_printed_and_logged(tmp_path):
    version = subprocess.run([str(REEL_BIN), "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0
    assert version.stdout.strip()[0].isdigit(), version.stdout
    result = run_serve(tmp_path, ["--port", "abc"], clean_env())  # exits before listening
    assert result.returncode == EX_CONFIG
    port = free_port()
    proc = subprocess.Popen(
        [str(REEL_BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--storage-dir", str(tmp_path / "v"),
         "--spool-dir", str(tmp_path / "s"), "--recordings-dir", str(tmp_path / "r"), "--min-free", "64M",
         "--token", "secret-token", "--log-format", "json"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        poll(lambda: _healthy(port) or proc.poll() is not None, 30, what="reel serve")
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    import json
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    start = next(r for r in records if r["message"].startswith("reel "))
    assert start["message"] == f"reel {version.stdout.strip()} starting"
    assert start["level"] == "info" and start["time"].endswith("Z")
    meta = start["metadata"]
    assert meta["listen"] == f"127.0.0.1:{port}"
    assert meta["storage"] == f"folder {tmp_path / 'v'}"
    assert meta["spool"] == str(tmp_path / "s") and meta["recordings"] == str(tmp_path / "r")
    assert meta["token"] == "on" and "secret-token" not in output
    assert re.match(r"1280x720 27 fps, x264 auto \(veryfast down to ultrafast\) on \d+\.\d\d cores crf 23, 1 thread,",
                    meta["encoder"]), meta["encoder"]
    assert "16 recordings" in meta["limits"]
    stop = records[-1]
    assert stop["message"].startswith("reel stopped: 0 recordings in progress finished"), stop

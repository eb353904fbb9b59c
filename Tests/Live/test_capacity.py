"""`--preset auto`: each recording gets the slowest preset the cores still carry
beside the recordings already admitted, or a 503 with Retry-After. The machine's
costs are given (the file the server keeps what it learnt in), never timed, and
--encoder-cores fixes the cores, so the choices are the same on any machine."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import requests

from conftest import (FRAMES, HTTP_TIMEOUT, REEL_BIN, assert_error, create, finish, finish_ok, metric_samples, poll,
                      recording_status, upload_ok)

# What x264 and the rest cost a 720p27 recording in cores, as a 2-core x86 server measured them:
# a recording costs veryfast 0.65, superfast 0.35, ultrafast 0.20.
MEASURED = {
    "size": "1280x720", "fps": 27,
    "encode": {"veryfast": {"cores": 0.60, "frames": 2700}, "superfast": {"cores": 0.30, "frames": 2700},
               "ultrafast": {"cores": 0.15, "frames": 2700}},
    "perFrame": {"cores": 0.05, "frames": 2700},
}


def auto_server(server, tmp_path, cores="1.9", costs=MEASURED, **options):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    if costs is not None:
        (spool / "encoder-costs.json").write_text(json.dumps(costs) if isinstance(costs, dict) else costs)
    return server(preset="auto", encoder_cores=cores, spool_dir=spool, recordings_dir=tmp_path / "recordings", **options)


def create_answer(srv) -> requests.Response:
    return requests.get(srv.url("/video/create_video"), headers=srv.headers(), timeout=HTTP_TIMEOUT)


def samples(srv) -> dict[str, float]:
    return {name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else ""): value
            for (name, labels), value in metric_samples(srv).items()}


@pytest.mark.timeout(120)
def test_auto_gives_slower_presets_first_and_refuses_with_503_when_no_preset_fits(server, tmp_path):
    srv = auto_server(server, tmp_path)
    # Admitted recordings count from their creation: none of these sends a frame.
    ids = [create(srv) for _ in range(4)]
    assert [recording_status(srv, rid)["preset"] for rid in ids] == ["veryfast", "veryfast", "superfast", "ultrafast"]

    refused = create_answer(srv)
    body = assert_error(refused, 503)
    assert int(refused.headers["Retry-After"]) > 0
    assert "the 4 in progress are expected to take 1.85 of the 1.90 cores" in body["message"], body
    assert "--encoder-cores" in body["message"] and "ultrafast" in body["message"]

    ready = requests.get(srv.url("/readyz"), timeout=HTTP_TIMEOUT)
    assert ready.status_code == 503 and any("no CPU for another recording" in r for r in ready.json()["reasons"])

    m = samples(srv)
    assert m['reel_recordings_started_total{preset="veryfast"}'] == 2
    assert m['reel_recordings_started_total{preset="superfast"}'] == 1
    assert m['reel_recordings_started_total{preset="ultrafast"}'] == 1
    assert m['reel_recordings_refused_total{reason="encoders_full"}'] == 1
    assert m["reel_encoder_capacity_cores"] == pytest.approx(1.9)
    assert m["reel_encoder_load_cores"] == pytest.approx(1.85)
    assert m['reel_preset_cost_cores{preset="superfast"}'] == pytest.approx(0.35)
    assert 'reel_preset_cost_cores{preset="medium"}' not in m  # auto never gives it

    # A veryfast recording ends; the others keep the presets they started with. With 1.20 taken, veryfast
    # would fit (1.85) but leave no room for another camera: the newcomer gets superfast.
    assert finish(srv, ids[0]).status_code == 409  # no frames: nothing to store, but its cores are free
    assert requests.get(srv.url("/readyz"), timeout=HTTP_TIMEOUT).status_code == 200
    newest = create(srv)
    assert recording_status(srv, newest)["preset"] == "superfast"
    assert [recording_status(srv, rid)["preset"] for rid in ids[1:]] == ["veryfast", "superfast", "ultrafast"]
    assert "preset=superfast" in srv.log() and "recording started" in srv.log()
    assert "unreadable" not in srv.log()  # the costs file is nobody's entry


@pytest.mark.timeout(120)
def test_a_recording_under_auto_is_encoded_with_its_preset_and_teaches_its_cost(server, tmp_path):
    srv = auto_server(server, tmp_path, cores="1.02", idle_seconds=30)
    ids = [create(srv) for _ in range(2)]  # 0.65, then 0.35: the second, the last that fits, gets superfast
    assert [recording_status(srv, rid)["preset"] for rid in ids] == ["veryfast", "superfast"]
    for rid in ids:
        for i in range(60):
            upload_ok(srv, FRAMES[i % 3], rid, raw=True)
    assert samples(srv)["reel_encoder_lag_seconds"] >= 0
    answers = [finish_ok(srv, rid) for rid in ids]
    assert [a["frames"] for a in answers] == [60, 60]
    stored = [recording_status(srv, rid) for rid in ids]
    assert [s["preset"] for s in stored] == ["veryfast", "superfast"] and all(s["state"] == "stored" for s in stored)
    # x264 writes its settings into the stream: superfast analyses with subme 1, veryfast with 2.
    options = [v.read_bytes().split(b"x264 - core", 1)[1][:2000] for v in srv.stored_videos()]
    assert sorted(o.split(b"subme=", 1)[1][:1] for o in options) == [b"1", b"2"]
    assert srv.terminate() == 0
    learnt = json.loads((tmp_path / "spool" / "encoder-costs.json").read_text())
    assert learnt["encode"]["veryfast"]["frames"] > 2700 and learnt["encode"]["superfast"]["frames"] > 2700
    assert "preset=veryfast" in srv.log() and "cpu.ms.per.frame=x264" in srv.log()


@pytest.mark.timeout(120)
def test_a_fixed_preset_admits_by_the_limit_alone(server, tmp_path):
    srv = auto_server(server, tmp_path, cores="0.5")
    srv.terminate()
    fixed = server(preset="veryfast", encoder_cores="0.5", spool_dir=tmp_path / "spool")
    ids = [create(fixed) for _ in range(5)]
    assert {recording_status(fixed, rid)["preset"] for rid in ids} == {"veryfast"}
    assert requests.get(fixed.url("/readyz"), timeout=HTTP_TIMEOUT).status_code == 200
    assert "--encoder-cores (REEL_ENCODER_CORES) is for --preset auto and is ignored with --preset veryfast" in fixed.log()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("costs, warning", [
    ("{not json", "is not a file of encoder costs; it is replaced by figures learnt anew"),
    ({**MEASURED, "size": "640x360"}, "holds costs for 640x360 at 27 fps, not 1280x720 at 27; they are learnt anew"),
])
def test_costs_that_cannot_be_used_are_learnt_anew_with_a_warning(server, tmp_path, costs, warning):
    srv = auto_server(server, tmp_path, costs=costs)
    poll(lambda: warning in srv.log(), timeout=10, what="the warning")
    # The reference figures for 720p27: veryfast 0.54, superfast 0.38, ultrafast 0.29 a recording in 1.9 cores.
    presets = [recording_status(srv, create(srv))["preset"] for _ in range(3)]
    assert presets == ["veryfast", "veryfast", "superfast"]


@pytest.mark.timeout(120)
def test_reel_capture_refused_for_cpu_asks_again_when_retry_after_says(server, tmp_path):
    srv = auto_server(server, tmp_path, cores="0.3")  # one ultrafast recording (0.20) and no room for a second
    first = create(srv)
    started = time.monotonic()
    camera = subprocess.Popen([str(REEL_BIN), "capture", "--source", "pattern", "--size", "640x360", "--fps", "30",
                               "--frames", "20", "--server", srv.base],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        poll(lambda: "recording refused" in srv.log(), timeout=20, what="the camera's first refusal")
        assert finish(srv, first).status_code == 409  # frees its cores
        out, err = camera.communicate(timeout=60)
    finally:
        camera.kill()
    assert camera.returncode == 0, err
    # It waited the 10 s Retry-After said, not its own quarter-second steps: one refusal, then a recording.
    assert srv.log().count("recording refused") == 1
    assert time.monotonic() - started >= 9
    assert "captured 20, sent 20" in err


@pytest.mark.timeout(180)
def test_encoder_lag_shows_a_recording_falling_behind_and_clears_when_it_catches_up(server):
    # medium at 720p on one thread takes far longer per frame than back-to-back uploads, once its
    # 40 frames of lookahead are full (until then x264 takes frames without encoding them).
    srv = server(preset="medium", idle_seconds=60)
    rid = create(srv)
    assert samples(srv)["reel_encoder_lag_seconds"] == 0
    done = threading.Event()

    def send():
        try:
            for i in range(120):
                upload_ok(srv, FRAMES[i % 3], rid, raw=True)
        finally:
            done.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    lags = []
    while not done.is_set():
        lags.append(samples(srv)["reel_encoder_lag_seconds"])
        time.sleep(0.1)
    sender.join(timeout=60)
    m = samples(srv)
    per_frame = m["reel_frame_encode_seconds_sum"] / m["reel_frame_encode_seconds_count"]
    # Frames waited for the encoder, several frames' encoding long, and the metric said so.
    assert max(lags) > 3 * per_frame, (lags, per_frame)
    # Once the encoder has caught up (x264 still holds its lookahead's frames, encoded at finish), nothing waits.
    poll(lambda: samples(srv)["reel_encoder_lag_seconds"] == 0, timeout=30, what="the encoder catching up")
    assert finish_ok(srv, rid)["frames"] == 120

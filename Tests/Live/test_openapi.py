"""The OpenAPI description (`Sources/ReelServer/openapi.yaml`) against the live server.

`reel serve` answers its description at `GET /openapi.yaml`; schemathesis reads
it and sends generated requests to every route (the description's examples, its
boundaries, random data), then chains of calls along its links (create_video →
video_upload with the id → finish_video → the recording's status), checking each
answer: no 5xx, a status the description lists, that status's content type, and
its JSON schema. Any failure fails the test, with the request that caused it.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
import yaml
from hypothesis import strategies as st  # hypothesis comes with schemathesis
from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES
from schemathesis.engine import events as engine_events
from schemathesis.engine import from_schema

from conftest import HTTP_TIMEOUT, REPO, create, finish_ok, fixture_bytes, upload_ok

SPEC_FILE = REPO / "Sources" / "ReelServer" / "openapi.yaml"
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance"]
SEED = 20251206
# Bounds: both runs together stay well under 3 minutes on a slow 2-core machine
# (about 30 s on a debug build here).
MAX_EXAMPLES = 100     # per operation, in the fuzzing phase
MAX_CHAINS = 150       # stateful: chains of calls along the links
MAX_STEPS = 12         # calls in one chain
REQUEST_TIMEOUT = 20   # seconds, every request schemathesis sends
TIME_BUDGET = 200      # seconds for both runs: past this they are stopped, and that is a failure
# The operations a recording goes through, for the second, stateful-only run.
RECORDING_FLOW = ["createVideo", "uploadFrame", "finishVideo", "getRecording"]


def spec_from(srv) -> tuple[dict, str]:
    """The description the server answers."""
    r = requests.get(srv.url("/openapi.yaml"), headers=srv.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return yaml.safe_load(r.text), "GET /openapi.yaml"


def frames() -> st.SearchStrategy[bytes]:
    """Frame bodies (raw, or the form's `image` field): real JPEGs most of the time, so recordings
    get frames and chains go deep, and the kinds the server must refuse."""
    good = st.sampled_from([fixture_bytes(name) for name in (
        "frame-1280x720-420-1.jpg", "frame-1280x720-420-2.jpg", "webcam-640x480-422.jpg", "odd-641x479.jpg")])
    bad = st.sampled_from([fixture_bytes(name) for name in (
        "truncated.jpg", "corrupt-scan.jpg", "cmyk-320x240.jpg", "not-a-jpeg.png")])
    junk = st.one_of(st.binary(max_size=64),
                     st.binary(min_size=3, max_size=256).map(lambda tail: b"\xff\xd8\xff" + tail))
    return st.one_of(good, good, good, good, bad, junk)


def timestamps() -> st.SearchStrategy[int | None]:
    """`X-Reel-Timestamp` as clients send it, epoch milliseconds, and as they must not break the
    server: jumps of days or years, clocks going back, the ends of int64. None: as generated."""
    return st.one_of(
        st.none(),
        st.integers(min_value=1_700_000_000_000, max_value=1_700_000_100_000),
        st.sampled_from([0, 1, -1, 2**31, 2**32, 10**9, 10**12, 2**53, -(2**63), 2**63 - 1]),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
    )


def with_live_examples(spec: dict, recording_id: str, video_name: str) -> dict:
    """The description with examples that exist on this server: a stored recording and its video."""
    spec = copy.deepcopy(spec)
    spec["components"]["parameters"]["RecordingIdPath"]["example"] = recording_id
    for parameter in spec["paths"]["/videos/{name}"]["parameters"]:
        if parameter["name"] == "name":
            parameter["example"] = video_name
    return spec


def load(spec: dict, srv, phases: dict) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "base-url": srv.base,
        "request-timeout": REQUEST_TIMEOUT,
        "seed": SEED,
        "suppress-health-check": ["all"],
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
        "phases": phases,
        "headers": srv.headers(),
    })
    schema = schemathesis.openapi.from_dict(spec, config=config)

    @schema.hook("flatmap_headers").apply_to(operation_id="uploadFrame")
    def timestamped(context, headers):
        def put(ts):
            return headers if ts is None else {**(headers or {}), "X-Reel-Timestamp": str(ts)}
        return timestamps().map(put)

    return schema


def crash_report(log: str) -> str:
    """What a crashed server said: the runtime's message and the first frames of the crashed thread."""
    lines = log.splitlines()
    report = [line for line in lines if line.startswith("*** ") or "Fatal error" in line]
    for index, line in enumerate(lines):
        if line.rstrip().endswith("crashed:"):
            report += lines[index:index + 14]
            break
    return "\n".join(report) if report else log[-3000:]


def route_of(path: str) -> str:
    """The route a request went to, its ids and names left out: for the tally of answers."""
    path = path.split("?", 1)[0]
    for prefix in ("/video/recordings/", "/videos/", "/assets/"):
        if path.startswith(prefix):
            return prefix + "{…}" + ("/thumbnail.jpg" if path.endswith("/thumbnail.jpg") else "")
    return path


@dataclass
class Findings:
    """What the runs saw: requests and answers, and failures grouped so one seen again (in
    another phase, with another id) is told once."""

    requests: int = 0
    answers: Counter = field(default_factory=Counter)
    failures: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    phases: dict = field(default_factory=dict)
    overran: bool = False

    def answered(self, request, response) -> None:
        self.requests += 1
        kind = (request.headers.get("Content-Type") or "").split(";")[0]
        kind = f" [{kind}]" if request.method == "POST" and kind else ""
        methods = ("GET", "POST", "HEAD")
        route = route_of(request.path_url) if request.method in methods else "(other methods)"
        self.answers[f"{request.method if request.method in methods else '*'} {route}{kind} "
                     f"{response.status_code}"] += 1

    def add_scenario(self, recorder) -> None:
        for case_id, checks in recorder.checks.items():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                failure = info.failure
                interaction = recorder.interactions.get(case_id)
                status, answer = None, ""
                if interaction is not None and interaction.response is not None:
                    response = interaction.response
                    status = response.status_code
                    content_type = (response.headers or {}).get("content-type", [""])[0]
                    body = response.content or b""
                    shown = (body[:300].decode("utf-8", "replace") if "json" in content_type or "text" in content_type
                             else f"<{len(body)} bytes>")
                    answer = f"\n  answered {status} {content_type}: {shown}"
                self.failures.setdefault((check.name, failure.operation, failure.title, status), []).append(
                    f"[{check.name}] {failure.operation}: {failure.title}\n"
                    f"  {failure.message.strip()}{answer}\n"
                    f"  reproduce:\n    " + info.code_sample.strip().replace("\n", "\n    "))

    def run(self, name: str, schema, deadline: float) -> None:
        """Runs schemathesis's engine (what `st run` runs) over `schema`, until it is done or `deadline`."""
        phase_started = (time.monotonic(), self.requests)
        # No `max-time`: with one, schemathesis repeats its phases until the time is up.
        stream = from_schema(schema).execute()
        for event in stream:
            if not self.overran and time.monotonic() > deadline:
                self.overran = True
                stream.stop()
            if isinstance(event, engine_events.PhaseStarted):
                phase_started = (time.monotonic(), self.requests)
            elif isinstance(event, (engine_events.ScenarioFinished, engine_events.FuzzScenarioFinished)):
                self.add_scenario(event.recorder)
            elif isinstance(event, engine_events.NonFatalError):
                self.errors.append(f"{name}, {event.label}: {event.info.title}: {event.info.message}")
            elif isinstance(event, engine_events.FatalError):
                self.errors.append(f"{name}: fatal: {event.exception!r}")
            elif isinstance(event, engine_events.PhaseFinished):
                at, before = phase_started
                self.phases[f"{name} {event.phase.name.value}"] = (
                    event.phase.skip_reason.value if event.phase.skip_reason else
                    f"{event.status.value} ({self.requests - before} requests, {time.monotonic() - at:.0f} s)")
            elif isinstance(event, engine_events.EngineFinished):
                for failure in event.failures:
                    self.failures.setdefault(("after run", failure.operation, failure.title, None), []).append(
                        f"[after run] {failure.operation}: {failure.title}\n  {failure.message}")

    def report(self) -> list[str]:
        return ([f"{found[0]}\n  (seen {len(found)} time(s))" for found in self.failures.values()]
                + [f"error: {error}" for error in self.errors])


@pytest.mark.timeout(300)
def test_openapi_schemathesis(server, monkeypatch):
    # Small, fast video and many recordings at once: the runs start hundreds and finish few.
    srv = server(size="320x240", preset="ultrafast", threads=1, max_recordings=128, idle_seconds=1,
                 log_level="warning")
    raw, source = spec_from(srv)

    # A stored recording, so the status, thumbnail and video routes have something to answer.
    rid = create(srv)
    for name in ("frame-1280x720-420-1.jpg", "frame-1280x720-420-2.jpg"):
        upload_ok(srv, fixture_bytes(name), rid, raw=True)
    video_name = finish_ok(srv, rid)["video url"].rsplit("/", 1)[1]
    spec = with_live_examples(raw, rid, video_name)

    # Every phase over every operation; chains in positive mode only, as a recording needs real frames.
    stateful = {"max-steps": MAX_STEPS, "generation": {"mode": "positive", "max-examples": MAX_CHAINS}}
    everything = load(spec, srv, {"stateful": stateful})
    assert everything.statistic.transitions.total > 0, "the description has no links to chain"
    # Then chains of the recording's own operations only, so more of them reach finish_video.
    flow = load(spec, srv, {"examples": {"enabled": False}, "coverage": {"enabled": False},
                            "fuzzing": {"enabled": False}, "stateful": stateful}
                ).include(operation_id=RECORDING_FLOW)

    findings = Findings()
    send = requests.Session.send

    def counted(self, request, **kwargs):
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        response = send(self, request, **kwargs)
        findings.answered(request, response)
        return response

    monkeypatch.setattr(requests.Session, "send", counted)
    schemathesis.openapi.media_type("image/jpeg", frames())
    started = time.monotonic()
    try:
        findings.run("all", everything, started + TIME_BUDGET)
        if srv.running:
            findings.run("flow", flow, started + TIME_BUDGET)
    finally:
        MEDIA_TYPE_STRATEGIES.pop("image/jpeg", None)

    print(f"description from {source}; schemathesis {schemathesis.__version__}, seed {SEED}: "
          f"{findings.requests} requests in {time.monotonic() - started:.0f} s")
    print("phases: " + "; ".join(f"{key}: {value}" for key, value in findings.phases.items()))
    print("answers: " + ", ".join(f"{key} x{count}" for key, count in sorted(findings.answers.items())))
    found = findings.report()
    for line in found:
        print("FAILURE " + line)
    assert srv.running, (f"reel serve died during the run:\n{crash_report(srv.log())}\n\n"
                         + "\n\n".join(found))
    assert not findings.overran, f"schemathesis was stopped after {TIME_BUDGET} s: {findings.phases}"
    for run in ("all", "flow"):
        assert findings.phases.get(f"{run} stateful", "not run").split()[0] in ("success", "failure"), \
            f"the {run} run made no chains: {findings.phases}"
    assert not found, (f"schemathesis found {len(found)} problem(s) in {findings.requests} requests:\n\n"
                       + "\n\n".join(found))


def test_openapi_yaml_is_served(server):
    """`GET /openapi.yaml` answers the description in the repository, as YAML."""
    srv = server()
    r = requests.get(srv.url("/openapi.yaml"), headers=srv.headers(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/yaml"), r.headers
    assert r.content == SPEC_FILE.read_bytes()
    assert yaml.safe_load(r.text)["openapi"].startswith("3.1")

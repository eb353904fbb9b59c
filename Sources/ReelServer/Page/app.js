// Reel's page: the list of recordings, a player, and a recorder that sends
// the browser camera's frames to the server as JPEGs.

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;
const REFRESH_MS = 3000;

// --- the server's token, asked once and kept for the tab ------------------

let token = sessionStorage.getItem("reel.token") || "";
let asking = null;

function askForToken(problem) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = $("token-dialog");
      $("token-problem").textContent = problem;
      $("token-input").value = "";
      // The page cannot work without the token: Esc does not dismiss the question.
      dialog.addEventListener("cancel", (event) => event.preventDefault(), { once: true });
      dialog.addEventListener("close", () => {
        token = $("token-input").value.trim();
        sessionStorage.setItem("reel.token", token);
        asking = null;
        resolve();
      }, { once: true });
      dialog.showModal();
    });
  }
  return asking;
}

/** fetch with the token; a 401 asks for it (again) and retries. A 401 to a
 *  request sent before a new token was given just retries with the new one. */
async function api(path, options = {}) {
  for (;;) {
    const used = token;
    const headers = new Headers(options.headers || {});
    if (used) headers.set("Authorization", `Bearer ${used}`);
    const response = await fetch(path, { ...options, headers });
    if (response.status !== 401) return response;
    if (token === used) await askForToken(used ? "That token was refused." : "");
  }
}

/** The JSON of an answer, or an error carrying the server's own message. */
async function json(response) {
  let body = {};
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const error = new Error(body.message || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

/** URLs the browser loads itself (img, video) carry the token as a query. */
function withToken(url) {
  if (!token || !url) return url;
  const parsed = new URL(url, location.href);
  if (parsed.origin !== location.origin) return url;
  parsed.searchParams.set("token", token);
  return parsed.href;
}

// --- messages --------------------------------------------------------------

function say(text, kind = "info") {
  const message = $("message");
  message.textContent = text;
  message.dataset.kind = kind;
}

// --- the list of recordings --------------------------------------------------

const list = { loaded: 0, next: null, rendered: false };

function formatDuration(seconds) {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function formatBytes(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

const STATES = {
  recording: "recording",
  finishing: "finishing",
  pending: "waiting for upload",
  stored: "stored",
  failed: "failed",
};

function card(recording) {
  const item = $("recording-card").content.firstElementChild.cloneNode(true);
  item.dataset.id = recording.id;
  item.dataset.state = recording.state;
  const image = item.querySelector("img");
  if (recording["thumbnail url"]) {
    image.src = withToken(recording["thumbnail url"]);
    image.hidden = false;
    item.querySelector(".no-picture").hidden = true;
  }
  const created = new Date(recording.created);
  item.querySelector(".when").textContent = created.toLocaleString();
  item.querySelector(".when").title = recording.created;
  item.querySelector(".facts").textContent = [
    formatDuration(recording.duration),
    recording.bytes ? formatBytes(recording.bytes) : null,
    recording.frames === 1 ? "1 frame" : `${recording.frames} frames`,
    recording.preset ? `x264 ${recording.preset}` : null,
  ].filter(Boolean).join(" · ");
  const state = item.querySelector(".state");
  state.textContent = STATES[recording.state] || recording.state;
  state.dataset.state = recording.state;
  if (recording["last error"]) {
    const attempts = recording.attempts ? ` (${recording.attempts} attempts)` : "";
    item.querySelector(".error").textContent = recording["last error"] + attempts;
  }
  const playback = $("playback");
  item.classList.toggle("playing", !playback.hidden && playback.dataset.id === recording.id);
  const button = item.querySelector(".play");
  if (recording["video url"]) {
    button.addEventListener("click", () => play(recording));
  } else {
    button.disabled = true;
  }
  // Only what is stored or failed can be deleted; a recording still moving cannot.
  const remove = item.querySelector(".delete");
  remove.disabled = recording.state !== "stored" && recording.state !== "failed";
  remove.addEventListener("click", () => deleteRecording(recording, item));
  return item;
}

/** Asks first; on success the card goes, on failure it stays and shows the server's message. */
async function deleteRecording(recording, item) {
  const when = new Date(recording.created).toLocaleString();
  if (!confirm(`Delete the recording of ${when}? Its video is removed from storage for good.`)) return;
  const button = item.querySelector(".delete");
  button.disabled = true;
  try {
    await json(await api(`/video/recordings/${encodeURIComponent(recording.id)}`, { method: "DELETE" }));
    item.remove();
    const playback = $("playback");
    if (playback.dataset.id === recording.id) {
      playback.pause();
      playback.removeAttribute("src");
      playback.hidden = true;
    }
    say("Recording deleted.");
    await loadRecordings();
  } catch (error) {
    button.disabled = false;
    item.querySelector(".error").textContent = `Not deleted: ${error.message}`;
    say(`Not deleted: ${error.message}`, "error");
  }
}

function render(recordings, total, append) {
  const container = $("recordings");
  const fragment = document.createDocumentFragment();
  for (const recording of recordings) fragment.append(card(recording));
  if (append) container.append(fragment); else container.replaceChildren(fragment);
  $("total").textContent = total ? `(${total})` : "";
  $("empty").hidden = total > 0;
  $("more").hidden = !list.next;
  if (!list.rendered) {
    list.rendered = true;
    performance.mark("reel:list-rendered");
    document.body.dataset.listRendered = "true";
  }
}

let loading = Promise.resolve();

/** Loads the first page again, as many entries as are shown, or the next page;
 *  one load at a time, so a late answer never undoes a newer one. */
function loadRecordings(options) {
  const run = loading.then(() => loadPage(options));
  loading = run.catch(() => {});
  return run;
}

async function loadPage({ more = false } = {}) {
  const limit = more ? PAGE_SIZE : Math.min(500, Math.max(PAGE_SIZE, list.loaded));
  const query = new URLSearchParams({ limit });
  if (more && list.next) query.set("before", list.next);
  const page = await json(await api(`/video/recordings?${query}`));
  list.next = page.next;
  list.loaded = (more ? list.loaded : 0) + page.recordings.length;
  render(page.recordings, page.total, more);
  return page.recordings;
}

let refreshTimer = null;

/** Keeps the list fresh while something on it is still changing. */
async function refresh() {
  clearTimeout(refreshTimer);
  try {
    const recordings = await loadRecordings();
    const changing = recordings.some((r) => r.state !== "stored" && r.state !== "failed");
    if (changing || recorder.active) refreshTimer = setTimeout(refresh, REFRESH_MS);
  } catch (error) {
    say(`Cannot list recordings: ${error.message}`, "error");
    refreshTimer = setTimeout(refresh, REFRESH_MS * 3);
  }
}

// --- the player -----------------------------------------------------------

function play(recording) {
  if (recorder.active) return;
  const video = $("playback");
  $("camera").hidden = true;
  $("screen-hint").hidden = true;
  video.hidden = false;
  video.src = withToken(recording["video url"]);
  video.dataset.id = recording.id;
  video.play().catch(() => { /* autoplay refused: the controls are there */ });
  for (const item of document.querySelectorAll(".card")) {
    item.classList.toggle("playing", item.dataset.id === recording.id);
  }
  video.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// --- the recorder ----------------------------------------------------------

const recorder = {
  active: false,
  id: null,
  stream: null,
  timer: null,
  inFlight: null,
  sent: 0,
  dropped: 0,
  started: 0,
  clock: null,
};

function showCounters() {
  $("sent").textContent = recorder.sent;
  $("dropped").textContent = recorder.dropped;
  const seconds = recorder.started ? (performance.now() - recorder.started) / 1000 : 0;
  $("elapsed").textContent = `${seconds.toFixed(1)} s`;
}

function chosenSize() {
  const [width, height] = $("size").value.split("x").map(Number);
  return { width, height };
}

function chosenFPS() {
  return Math.min(60, Math.max(1, Number($("fps").value) || 27));
}

async function startRecording() {
  const { width, height } = chosenSize();
  const fps = chosenFPS();
  $("record").disabled = true;
  say("Starting the camera…");
  try {
    recorder.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: fps } },
      audio: false,
    });
  } catch (error) {
    say(`No camera: ${error.message || error.name}`, "error");
    $("record").disabled = false;
    return;
  }
  const camera = $("camera");
  $("playback").pause();
  $("playback").hidden = true;
  $("screen-hint").hidden = true;
  camera.hidden = false;
  camera.srcObject = recorder.stream;
  try {
    await camera.play();
  } catch (error) {
    say(`The camera does not play: ${error.message}`, "error");
    stopCamera();
    $("record").disabled = false;
    return;
  }

  try {
    // Arrival timing: a dropped frame leaves the one before on screen longer,
    // so the video lasts as long as the recording did.
    const created = await json(await api("/video/create_video?timing=arrival"));
    recorder.id = created.id;
  } catch (error) {
    say(`The server did not start a recording: ${error.message}`, "error");
    stopCamera();
    $("record").disabled = false;
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { alpha: false });
  Object.assign(recorder, { active: true, sent: 0, dropped: 0, inFlight: null, started: performance.now() });
  $("stop").disabled = false;
  $("size").disabled = $("fps").disabled = true;
  say(`Recording ${recorder.id.slice(0, 8)}…`);
  recorder.timer = setInterval(() => sendFrame(camera, canvas, context), 1000 / fps);
  recorder.clock = setInterval(showCounters, 200);
  refresh();
}

/** Draws the camera's picture, letterboxed, and uploads it; a frame that
 *  comes while the previous upload is still under way is dropped, not queued. */
function sendFrame(camera, canvas, context) {
  if (!recorder.active) return;
  if (recorder.inFlight) {
    recorder.dropped += 1;
    return;
  }
  const scale = Math.min(canvas.width / camera.videoWidth, canvas.height / camera.videoHeight);
  const w = camera.videoWidth * scale, h = camera.videoHeight * scale;
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(camera, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  const timestamp = Math.round(performance.now() - recorder.started);
  recorder.inFlight = new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85))
    .then((jpeg) => api(`/video/video_upload?id=${encodeURIComponent(recorder.id)}`, {
      method: "POST",
      headers: { "Content-Type": "image/jpeg", "X-Reel-Timestamp": String(timestamp) },
      body: jpeg,
    }))
    .then(json)
    .then(() => { recorder.sent += 1; })
    .catch((error) => {
      say(`Frame refused: ${error.message}`, "error");
      // The recording is gone or full: nothing more can be added to it.
      if (error.status === 404 || error.status === 409) stopRecording();
    })
    .finally(() => { recorder.inFlight = null; });
}

function stopCamera() {
  if (recorder.stream) for (const track of recorder.stream.getTracks()) track.stop();
  recorder.stream = null;
  $("camera").srcObject = null;
  $("camera").hidden = true;
  $("screen-hint").hidden = !$("playback").hidden;
}

async function stopRecording() {
  if (!recorder.active) return;
  recorder.active = false;
  clearInterval(recorder.timer);
  $("stop").disabled = true;
  await recorder.inFlight;
  clearInterval(recorder.clock);
  showCounters();
  stopCamera();
  const error = $("message").dataset.kind === "error" ? $("message").textContent : "";
  say("Finishing…");
  try {
    const done = await json(await api(`/video/finish_video?id=${encodeURIComponent(recorder.id)}`));
    say(`Stored ${done.frames} frames, ${done.duration.toFixed(1)} s.${error ? " " + error : ""}`, error ? "error" : "ok");
  } catch (failure) {
    say(`Finishing failed: ${failure.message}`, "error");
  }
  $("record").disabled = false;
  $("size").disabled = $("fps").disabled = false;
  await refresh();
}

/** Leaving the page mid-recording finishes the recording at once, instead of
 *  after the server's idle time; keepalive lets the request outlive the page. */
function finishOnLeave() {
  if (!recorder.active) return;
  recorder.active = false;
  clearInterval(recorder.timer);
  clearInterval(recorder.clock);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  fetch(`/video/finish_video?id=${encodeURIComponent(recorder.id)}`, { keepalive: true, headers });
  // Left ready to record again, should the browser bring this page back from its cache.
  stopCamera();
  $("stop").disabled = true;
  $("record").disabled = false;
  $("size").disabled = $("fps").disabled = false;
  say("");
}

// --- start -----------------------------------------------------------------

window.addEventListener("pagehide", finishOnLeave);
window.addEventListener("pageshow", (event) => { if (event.persisted) refresh(); });
$("record").addEventListener("click", startRecording);
$("stop").addEventListener("click", stopRecording);
$("more").addEventListener("click", () => loadRecordings({ more: true }).catch((error) => {
  // The page's last recording may be gone: start the list again.
  say(`Cannot show more: ${error.message}`, "error");
  refresh();
}));
if (!navigator.mediaDevices?.getUserMedia) {
  $("record").disabled = true;
  say("This browser cannot record here: the camera needs HTTPS or localhost.");
}
refresh();

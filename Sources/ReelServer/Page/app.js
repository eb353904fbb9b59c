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
  // A recording in progress can be watched live.
  const inProgress = recording.state === "recording";
  item.querySelector(".live").hidden = !inProgress;
  const button = item.querySelector(".play");
  if (inProgress) {
    button.addEventListener("click", () => watchLive(recording));
  } else if (recording["video url"]) {
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
      stopLive();
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

/** Shows the player for a recording, instead of the camera or the hint. */
function showPlayer(id) {
  const video = $("playback");
  $("camera").hidden = true;
  $("screen-hint").hidden = true;
  video.hidden = false;
  video.dataset.id = id;
  for (const item of document.querySelectorAll(".card")) {
    item.classList.toggle("playing", item.dataset.id === id);
  }
  video.scrollIntoView({ block: "nearest", behavior: "smooth" });
  return video;
}

function play(recording) {
  if (recorder.active) return;
  if (stopLive()) say(""); // the live view's status is about another recording
  const video = showPlayer(recording.id);
  video.src = withToken(recording["video url"]);
  video.dataset.mode = "stored";
  video.play().catch(() => { /* autoplay refused: the controls are there */ });
}

// --- the live view ---------------------------------------------------------
//
// A recording in progress is watched from its spool: `live.mp4` streams the
// init segment (ftyp + moov), then moof + mdat fragments as the encoder
// completes them, which go into a Media Source Extensions buffer as they are.
// When the stream ends the recording is followed until it is stored, and the
// stored video takes over at the same position.

const LIVE_BEHIND_S = 3;     // further than this behind the newest frame: jump
const LIVE_MARGIN_S = 0.5;   // ... to this much before it
const LIVE_CATCH_UP = { above: 1.5, below: 1.0, rate: 1.25 }; // a little behind: faster, until close
const LIVE_KEEP_S = 60;      // media kept behind the position
const LIVE_POLL_MS = 1000;   // asking whether a finished recording is stored yet
const LIVE_RETRY_MS = 2000;  // asking again after the live view was lost
const LIVE_RETRY_MAX_MS = 30000; // ... at most this long apart when it keeps failing

/** The live view shown, or null: { id, name, connection, connectedAt, timer }. */
let live = null;

function watchLive(recording) {
  if (recorder.active || live?.id === recording.id) return;
  stopLive();
  const video = showPlayer(recording.id);
  video.dataset.mode = "live";
  // A recording has no sound; muted, starting it is never refused.
  video.muted = true;
  if (!window.MediaSource) {
    watchNatively(video, recording);
    return;
  }
  live = {
    id: recording.id, name: recording.id.slice(0, 8), connection: null, connectedAt: 0, timer: null,
    failures: 0,      // live views lost in a row: each retry waits longer
    following: true,  // kept at the live edge, until the viewer pauses or seeks back
  };
  connectLive(live);
}

/** Without Media Source Extensions (an iPhone's Safari) the browser's own HLS
 *  player takes the playlist, if it has one. */
function watchNatively(video, recording) {
  const playlist = `/video/recordings/${encodeURIComponent(recording.id)}/live.m3u8`;
  if (!video.canPlayType("application/vnd.apple.mpegurl")) {
    say("This browser cannot play a recording while it records; it plays once stored.", "error");
    return;
  }
  video.src = withToken(playlist);
  video.play().catch(() => { /* autoplay refused: the controls are there */ });
  say(`Live · ${recording.id.slice(0, 8)}`);
}

/** Moves the live view's position itself, which the viewer's own seeking is told apart from. */
function seekLive(video, time) {
  if (live) live.seeking = true;
  video.currentTime = time;
}

/** The viewer paused or went back: the live view stops chasing the newest frame until played again. */
function followLive(event) {
  if (!live) return;
  if (event.type === "seeking") {
    if (!live.seeking) live.following = false;
    live.seeking = false;
  } else if (event.type === "pause") {
    if (!$("playback").ended) live.following = false;
  } else if (event.type === "play") {
    live.following = true;
  }
}

/** Stops the live view (another recording, a deletion, the camera): no more
 *  requests, no more timers, and the player lets go of the MediaSource.
 *  Whether there was one. */
function stopLive() {
  if (!live) return false;
  clearTimeout(live.timer);
  const video = $("playback");
  const url = live.connection?.url;
  closeConnection(live.connection);
  live = null;
  video.playbackRate = 1;
  if (url && video.src === url) {
    video.removeAttribute("src");
    video.load();
  }
  return true;
}

/** A fresh MediaSource on the player and a fresh request for the stream. */
function connectLive(view) {
  closeConnection(view.connection);
  const source = new MediaSource();
  const connection = {
    source,
    url: URL.createObjectURL(source),
    controller: new AbortController(),
    buffer: null,
    queue: [],         // segments waiting for the buffer to finish its append
    started: false,    // the first media segment is in: playing
    idle: null,        // resolves once the queue is empty and nothing is appending
    closed: false,
  };
  view.connection = connection;
  view.connectedAt = performance.now();
  source.addEventListener("sourceopen", () => streamLive(view, connection), { once: true });
  $("playback").src = connection.url;
  say(`Live · ${view.name} (connecting…)`);
}

function closeConnection(connection) {
  if (!connection || connection.closed) return;
  connection.closed = true;
  connection.controller.abort();
  URL.revokeObjectURL(connection.url);
}

/** Reads live.mp4 to its end; what went wrong decides what comes next. */
async function streamLive(view, connection) {
  const path = `/video/recordings/${encodeURIComponent(view.id)}/live.mp4`;
  try {
    const response = await api(path, { signal: connection.controller.signal, cache: "no-store" });
    if (!response.ok) await json(response); // throws the server's message
    say(`Live · ${view.name}`);
    const reader = response.body.getReader();
    const boxes = boxReader((type, box) => takeBox(connection, type, box));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      boxes.add(value);
    }
    boxes.end();
    await appended(connection);
    if (connection.closed) return;
    if (connection.source.readyState === "open") connection.source.endOfStream();
    followStored(view, 0);
  } catch (error) {
    if (connection.closed) return; // stopped on purpose: the abort is no failure
    if (error.status === 404) {
      stopLive();
      say(`Recording ${view.name} is gone.`, "error");
    } else if (error.status === 409) {
      followStored(view, 0); // not live: finished, or from before a restart
    } else {
      liveLost(view, error.message);
    }
  }
}

/** Top-level MP4 boxes from a stream of bytes: each complete box goes to
 *  `take(type, bytes)`; a box cut between two reads waits for the rest. */
function boxReader(take) {
  let pending = new Uint8Array(0);
  return {
    add(chunk) {
      pending = concat(pending, chunk);
      let offset = 0;
      for (;;) {
        const size = boxSize(pending, offset);
        if (size === null || offset + size > pending.length) break;
        const type = String.fromCharCode(...pending.subarray(offset + 4, offset + 8));
        take(type, pending.slice(offset, offset + size));
        offset += size;
      }
      pending = pending.subarray(offset);
    },
    end() {
      if (pending.length) throw new Error("the stream stopped in the middle of a box");
    },
  };
}

/** A box's size from its header (32-bit, or 64-bit after size 1), or null
 *  while the header itself is not all there. */
function boxSize(bytes, offset) {
  if (bytes.length - offset < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
  const size = view.getUint32(0);
  if (size === 1) {
    if (bytes.length - offset < 16) return null;
    return Number(view.getBigUint64(8));
  }
  if (size < 8) throw new Error(`a box of ${size} bytes in the stream`);
  return size;
}

function concat(...parts) {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** ftyp + moov are the init segment; each moof + mdat pair is one media segment. */
function takeBox(connection, type, box) {
  if (connection.closed) return;
  if (type === "ftyp") {
    connection.ftyp = box;
  } else if (type === "moov") {
    const mime = `video/mp4; codecs="${avcCodec(box)}"`;
    if (!MediaSource.isTypeSupported(mime)) {
      // Asking again would not help: this browser does not play this H.264.
      stopLive();
      say(`This browser cannot play the recording live (${mime}); it plays once stored.`, "error");
      return;
    }
    connection.buffer = connection.source.addSourceBuffer(mime);
    connection.buffer.addEventListener("updateend", () => afterUpdate(connection));
    const refused = () => liveFailed(connection, "the video would not take a fragment");
    connection.buffer.addEventListener("error", refused);
    enqueue(connection, concat(connection.ftyp || new Uint8Array(0), box), false);
  } else if (type === "moof") {
    connection.moof = box;
  } else if (type === "mdat" && connection.moof) {
    enqueue(connection, concat(connection.moof, box), true);
    connection.moof = null;
  }
}

/** `avc1.` and the avcC box's profile, compatibility and level bytes (the
 *  three after its version byte), the codec string MSE asks for. */
function avcCodec(moov) {
  for (let i = 4; i + 8 <= moov.length; i += 1) {
    if (moov[i] === 0x61 && moov[i + 1] === 0x76 && moov[i + 2] === 0x63 && moov[i + 3] === 0x43) { // "avcC"
      const hex = [...moov.subarray(i + 5, i + 8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
      return `avc1.${hex}`;
    }
  }
  throw new Error("no H.264 configuration (avcC) in the stream");
}

function enqueue(connection, bytes, media) {
  connection.queue.push({ bytes, media });
  appendNext(connection);
}

/** One append at a time: the next segment goes in when the last one is done. */
function appendNext(connection) {
  const buffer = connection.buffer;
  if (connection.closed || !buffer || buffer.updating) return;
  if (connection.source.readyState !== "open") {
    liveFailed(connection, "the video closed its stream");
    return;
  }
  const next = connection.queue.shift();
  if (!next) {
    connection.idle?.();
    return;
  }
  connection.appending = next;
  try {
    buffer.appendBuffer(next.bytes);
  } catch (error) {
    liveFailed(connection, error.message);
  }
}

function afterUpdate(connection) {
  if (connection.closed) return;
  const video = $("playback");
  const buffer = connection.buffer;
  const ranges = buffer.buffered;
  if (connection.appending?.media && ranges.length) {
    const end = ranges.end(ranges.length - 1);
    if (!connection.started) {
      connection.started = true;
      if (live) live.failures = 0;
      seekLive(video, ranges.start(0));
      video.play().catch(() => { /* autoplay refused: the controls are there */ });
    } else if (!live?.following || video.paused) {
      video.playbackRate = 1;
    } else if (end - video.currentTime > LIVE_BEHIND_S) {
      seekLive(video, end - LIVE_MARGIN_S); // stay near the live edge
    } else {
      catchUp(video, end - video.currentTime);
    }
  }
  connection.appending = null;
  // A long recording: what is long past is let go (remove is an update too,
  // so the next append waits for its updateend).
  const keepFrom = video.currentTime - LIVE_KEEP_S;
  if (ranges.length && ranges.start(0) < keepFrom - 1) {
    buffer.remove(0, keepFrom);
    return;
  }
  appendNext(connection);
}

/** The stream starts at its latest keyframe, up to a keyframe interval back:
 *  a quarter faster until close to the newest frame, which a viewer hardly
 *  notices (a jump they would), then at the normal rate with some margin. */
function catchUp(video, behind) {
  if (behind > LIVE_CATCH_UP.above) video.playbackRate = LIVE_CATCH_UP.rate;
  else if (behind < LIVE_CATCH_UP.below) video.playbackRate = 1;
}

/** Resolves once every segment received is in the buffer. */
function appended(connection) {
  return new Promise((resolve) => {
    connection.idle = resolve;
    if (!connection.buffer) resolve();
    else appendNext(connection);
  });
}

/** The player refused what came: the stream is started again. */
function liveFailed(connection, reason) {
  if (connection.closed || live?.connection !== connection) return;
  liveLost(live, reason);
}

/** A decoding error on the live stream's player. */
function playbackError() {
  const connection = live?.connection;
  if (connection && $("playback").src === connection.url) {
    liveFailed(connection, $("playback").error?.message || "the video would not play");
  }
}

/** The live view broke (the server went, a 5xx, the connection dropped):
 *  asks the recording's state every few seconds until it can go on. */
function liveLost(view, reason) {
  if (live !== view) return;
  closeConnection(view.connection);
  say(`Live view lost: ${reason}; trying again…`, "error");
  clearTimeout(view.timer);
  // Each failure in a row waits twice as long: what keeps failing is not asked for every 2 s for hours.
  const wait = Math.min(LIVE_RETRY_MAX_MS, LIVE_RETRY_MS * 2 ** view.failures);
  view.failures += 1;
  view.timer = setTimeout(() => followStored(view, wait, reason), wait);
}

/** Asks the recording's state and acts on it: still recording → live again;
 *  stored → the stored video; finishing or waiting for upload → asks again
 *  after `interval` ms (at least LIVE_POLL_MS). `lost` is why the live view
 *  went, while the server cannot be reached. */
async function followStored(view, interval, lost = "") {
  if (live !== view) return;
  // Asked again, a little later each time (an upload may wait for storage for hours).
  const again = () => {
    clearTimeout(view.timer);
    const next = Math.min(LIVE_RETRY_MAX_MS, Math.max(interval, LIVE_POLL_MS) * 1.5);
    view.timer = setTimeout(() => followStored(view, next, lost), Math.max(interval, LIVE_POLL_MS));
  };
  let entry;
  try {
    entry = await json(await api(`/video/recordings/${encodeURIComponent(view.id)}`, { cache: "no-store" }));
  } catch (error) {
    if (live !== view) return;
    if (error.status === 404) {
      stopLive();
      say(`Recording ${view.name} is gone.`, "error");
      return;
    }
    say(`Live view lost: ${lost || error.message}; trying again…`, "error");
    again();
    return;
  }
  if (live !== view) return;
  if (entry["video url"]) {
    showStored(view, entry["video url"]);
  } else if (entry.state === "recording") {
    reconnect(view);
  } else if (entry.state === "failed") {
    stopLive();
    say(`Recording ${view.name} failed: ${entry["last error"] || "the server gave no reason"}`, "error");
  } else {
    const problem = entry["last error"];
    if (entry.state !== "pending") say("Finishing…");
    else if (problem) say(`Waiting for upload: ${problem}`, "error");
    else say("Waiting for upload…");
    again();
  }
}

/** Live again, but not sooner than LIVE_RETRY_MS after the last try: a
 *  server that says "recording" yet answers the stream with "not live" is
 *  not asked in a loop. */
function reconnect(view) {
  const wait = view.connectedAt + LIVE_RETRY_MS - performance.now();
  if (wait <= 0) {
    connectLive(view);
    return;
  }
  clearTimeout(view.timer);
  view.timer = setTimeout(() => { if (live === view) connectLive(view); }, wait);
}

/** The stored video takes over from the live view, at the same position. */
function showStored(view, url) {
  const video = $("playback");
  const position = video.currentTime;
  const ended = video.ended;
  stopLive();
  const stored = withToken(url);
  video.src = stored;
  video.playbackRate = 1;
  video.dataset.mode = "stored";
  video.addEventListener("loadedmetadata", () => {
    if (video.src !== new URL(stored, location.href).href) return; // another recording was chosen meanwhile
    video.currentTime = Math.min(position, video.duration);
    // Seen to its end already: left there, not started again from the top.
    if (!ended) video.play().catch(() => { /* autoplay refused: the controls are there */ });
  }, { once: true });
  say(`Stored · ${view.name}`, "ok");
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
  stopLive();
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
    // The recording's id chosen here (where the browser can), so a load balancer hashing on it
    // sends the first request where the frames will go.
    const id = window.crypto && crypto.randomUUID ? `&id=${crypto.randomUUID()}` : "";
    const created = await json(await api(`/video/create_video?timing=arrival${id}`));
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
$("playback").addEventListener("error", playbackError);
for (const type of ["seeking", "pause", "play"]) $("playback").addEventListener(type, followLive);
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

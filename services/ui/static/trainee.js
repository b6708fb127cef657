// Trainee page: camera -> JPEG uploads (one in flight, extra frames dropped), live coach view, spoken cues.
"use strict";

(() => {
  const { $, setText } = FT;
  const TARGET_FPS = 24;
  const MAX_SIDE = 640;
  const JPEG_QUALITY = 0.8;

  const video = $("video");
  const stage = $("stage");
  const grab = document.createElement("canvas");
  const reference = new FT.Reference($("reference"), $("reference-name"), $("reference-advice"));
  const panel = new FT.CoachPanel(reference);
  const skeleton = new FT.SkeletonLayer($("overlay"));

  let session = newSessionId();
  let used = false;          // frames were sent under `session`: the next start needs a fresh id
  let events = null;
  let camera = null;         // MediaStream
  let timer = null;
  let inFlight = false;
  const counts = { sent: 0, dropped: 0, refused: 0, windowStart: performance.now(), windowSent: 0, fps: 0 };

  // ------------------------------------------------------------------ audio (needs a click before it may play)
  let muted = localStorage.getItem("ft-muted") === "1";
  const queue = [];
  let playing = null;
  const player = new Audio();
  function renderMute() {
    const btn = $("mute");
    btn.setAttribute("aria-pressed", muted ? "true" : "false");
    btn.classList.toggle("is-muted", muted);
  }
  function playNext() {
    if (playing || muted || !queue.length) return;
    playing = queue.shift();
    player.src = playing.url;
    player.play().then(() => { $("audio-hint").hidden = true; }).catch(() => {
      $("audio-hint").hidden = false;
      playing = null;
    });
  }
  player.addEventListener("ended", () => { playing = null; playNext(); });
  player.addEventListener("error", () => { playing = null; playNext(); });
  $("mute").addEventListener("click", () => {
    muted = !muted;
    localStorage.setItem("ft-muted", muted ? "1" : "0");
    if (muted) { player.pause(); queue.length = 0; playing = null; }
    renderMute();
  });
  document.addEventListener("click", () => { if (!$("audio-hint").hidden) { $("audio-hint").hidden = true; playNext(); } });
  renderMute();

  // ------------------------------------------------------------------ live events of this session
  function connect() {
    if (events) events.close();
    setText("session-id", session);
    events = FT.stream(`/api/stream?session=${encodeURIComponent(session)}&poses=all`, {
      snapshot: (d) => { FT.renderHealth($("health"), d.health); if (d.session) panel.apply(d.session); },
      coach: (v) => panel.apply(v),
      pose: (p) => {
        if (!camera) return;
        skeleton.update(p);
        const badge = $("exercise-badge");
        if (p.exercise && p.exercise !== "none") { setText(badge, FT.nameOf(p.exercise)); badge.classList.add("active"); }
      },
      cue: (c) => setText("spoken-cue", c.text),
      audio: (a) => {
        if (a.session && a.session !== session) return;
        setText("spoken-cue", a.text);
        if (!muted) { queue.push(a); while (queue.length > 3) queue.shift(); playNext(); }
      },
      ended: (d) => showReport(d.session),
      health: (h) => FT.renderHealth($("health"), h),
    }, "link-status");
  }

  function showReport(id, saved = true) {
    if (id !== session) return;
    if (saved) setText("upload-stats", "Workout saved.");
    const link = $("report-link");
    link.href = `/analytics/${encodeURIComponent(id)}`;
    link.hidden = false;
  }

  // ------------------------------------------------------------------ camera and uploads
  function newSessionId() {
    const bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => (b % 36).toString(36)).join("");
  }

  function setCameraStatus(text, cls) {
    const el = $("camera-status");
    el.textContent = text;
    el.className = `status-pill ${cls || ""}`;
  }

  async function start() {
    $("start").disabled = true;
    if (used) { session = newSessionId(); used = false; connect(); }
    $("report-link").hidden = true;
    try {
      camera = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" }, audio: false });
    } catch (err) {
      setCameraStatus(`Camera unavailable: ${err.name}`, "bad");
      $("start").disabled = false;
      return;
    }
    video.srcObject = camera;
    await video.play().catch(() => {});
    FT.setStageAspect(stage, video.videoWidth, video.videoHeight);
    stage.classList.add("live");
    $("stop").disabled = false;
    setCameraStatus("Camera on", "ok");
    counts.windowStart = performance.now();
    timer = setInterval(tick, 1000 / TARGET_FPS);
  }

  function tick() {
    if (!camera || video.readyState < 2 || !video.videoWidth) return;
    if (inFlight) { counts.dropped += 1; return; }  // never queue: a late frame is worth less than a fresh one
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
    if (grab.width !== w || grab.height !== h) { grab.width = w; grab.height = h; FT.setStageAspect(stage, w, h); }
    grab.getContext("2d").drawImage(video, 0, 0, w, h);
    inFlight = true;
    grab.toBlob((blob) => {
      if (!blob || !camera) { inFlight = false; return; }
      fetch(`/api/ingest/${encodeURIComponent(session)}`, {
        method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" }, credentials: "same-origin" })
        .then((r) => r.json().then((body) => ({ ok: r.ok, status: r.status, body })))
        .then(({ ok, status, body }) => {
          if (ok && body.sent) { counts.sent += 1; counts.windowSent += 1; used = true; }
          else if (ok) counts.dropped += 1;
          else { counts.refused += 1; if (status === 409) stop(); }
        })
        .catch(() => { counts.refused += 1; })
        .finally(() => { inFlight = false; showUploadStats(); });
    }, "image/jpeg", JPEG_QUALITY);
  }

  function showUploadStats() {
    const now = performance.now();
    if (now - counts.windowStart >= 1000) {
      counts.fps = counts.windowSent * 1000 / (now - counts.windowStart);
      counts.windowStart = now;
      counts.windowSent = 0;
      setText("upload-stats", `${counts.fps.toFixed(0)} fps sent · ${counts.dropped} skipped`);
      setCameraStatus(counts.fps > 0 ? `Camera on · ${counts.fps.toFixed(0)} fps` : "Camera on · trainer not receiving",
                      counts.fps > 0 ? "ok" : "warn");
    }
  }

  function endSession(beacon) {
    const url = `/api/ingest/${encodeURIComponent(session)}/end`;
    if (beacon && navigator.sendBeacon) navigator.sendBeacon(url, new Blob([], { type: "text/plain" }));
    else fetch(url, { method: "POST", keepalive: true, credentials: "same-origin" }).catch(() => {});
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (camera) camera.getTracks().forEach((t) => t.stop());
    const wasRunning = !!camera;
    camera = null;
    video.srcObject = null;
    stage.classList.remove("live");
    skeleton.update(null);
    $("stop").disabled = true;
    $("start").disabled = false;
    setCameraStatus("Camera off", "");
    if (wasRunning && used) {
      endSession(false);
      // The report exists once the coach has closed the session (an "ended" event); show the link anyway soon.
      setText("upload-stats", "Saving your workout…");
      const id = session;
      setTimeout(() => { if ($("report-link").hidden) showReport(id, false); }, 6000);
    }
  }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  window.addEventListener("pagehide", () => { if (camera && used) endSession(true); });
  connect();
})();

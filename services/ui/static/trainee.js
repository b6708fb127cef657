// Trainee page: first-visit guide, exercise choice or plan, camera over the tab's WebSocket (FT.Streamer),
// the skeleton on the frame it was computed from, live coaching, spoken cues and the saved workout.
"use strict";

(() => {
  const { $, setText } = FT;
  const cfg = window.FT_CONFIG || {};
  const video = $("video");
  const stage = $("stage");
  const frameView = $("frame-view");
  const reference = new FT.Reference($("reference"), $("reference-name"), $("reference-advice"));
  const panel = new FT.CoachPanel(reference);
  const skeleton = new FT.SkeletonLayer($("overlay"));
  const plan = new FT.Plan(cfg.holds);
  const SHOW_LIVE_AFTER_MS = 1000;   // no answer for this long: show the live video rather than a frozen frame

  let session = newSessionId();
  let used = false;          // frames went out under `session`: the next start needs a fresh id
  let camera = null;         // MediaStream
  let streamer = null;
  let lastAnswer = 0;

  // ------------------------------------------------------------------ first visit
  function showIntro(show) {
    $("intro").hidden = !show;
    if (!show) localStorage.setItem("ft-intro-seen", "1");
  }
  $("intro-close").addEventListener("click", () => showIntro(false));
  $("intro-open").addEventListener("click", () => showIntro($("intro").hidden));
  showIntro(localStorage.getItem("ft-intro-seen") !== "1");

  // ------------------------------------------------------------------ exercise choice and plan
  const choice = $("exercise-choice");
  choice.value = localStorage.getItem("ft-exercise") || "";
  if (choice.selectedIndex < 0) choice.value = "";
  choice.addEventListener("change", () => localStorage.setItem("ft-exercise", choice.value));
  const chosenExercise = () => (plan.active ? plan.exercise : choice.value);

  function planRow(step) {
    const tr = document.createElement("tr");
    const select = choice.cloneNode(true);
    select.removeAttribute("id");
    select.remove(0);   // a plan step names its exercise
    select.value = step.exercise;
    const reps = Object.assign(document.createElement("input"), { type: "number", min: 1, max: 600, value: step.reps });
    const sets = Object.assign(document.createElement("input"), { type: "number", min: 1, max: 20, value: step.sets });
    const remove = Object.assign(document.createElement("button"), { type: "button", className: "button ghost small",
                                                                      textContent: "×", title: "Remove" });
    const save = () => {
      plan.steps = [...$("plan-steps").tBodies[0].rows].map((row) => row.step);
      plan.save();
    };
    tr.step = step;
    select.addEventListener("change", () => { step.exercise = select.value; save(); });
    reps.addEventListener("change", () => { step.reps = Math.max(1, Number(reps.value) || 1); save(); });
    sets.addEventListener("change", () => { step.sets = Math.max(1, Number(sets.value) || 1); save(); });
    remove.addEventListener("click", () => { tr.remove(); save(); });
    for (const el of [select, reps, sets, remove]) { const td = document.createElement("td"); td.appendChild(el); tr.appendChild(td); }
    return tr;
  }
  function renderPlanEditor() {
    const body = $("plan-steps").tBodies[0];
    body.innerHTML = "";
    for (const step of plan.steps) body.appendChild(planRow(step));
  }
  $("plan-toggle").addEventListener("click", () => {
    const open = $("plan").hidden;
    $("plan").hidden = !open;
    $("plan-toggle").setAttribute("aria-expanded", String(open));
    if (open) renderPlanEditor();
  });
  $("plan-add").addEventListener("click", () => {
    const step = { exercise: (cfg.exercises || Object.keys(cfg.advice || {}))[0] || "squat", reps: 10, sets: 2 };
    plan.steps.push(step);
    plan.save();
    $("plan-steps").tBodies[0].appendChild(planRow(step));
  });
  $("plan-start").addEventListener("click", () => {
    if (!plan.begin()) { say("Add at least one exercise to the plan first."); return; }
    $("plan").hidden = true;
    renderPlan();
    say(`Plan started: ${FT.nameOf(plan.exercise)} first.`, "ok");
  });
  $("plan-clear").addEventListener("click", () => { plan.end(); renderPlan(); $("plan").hidden = true; });
  function renderPlan() {
    choice.disabled = plan.active;
    if (plan.active) choice.value = plan.exercise;
    else choice.value = localStorage.getItem("ft-exercise") || "";
    const badge = $("plan-badge");
    badge.hidden = !plan.active;
    setText(badge, plan.label(FT.nameOf));
  }
  function followPlan(v) {
    if (!plan.active) return;
    const happened = plan.observe(v);
    if (happened === "set") say(`Set done. Rest, then set ${plan.set} of ${plan.step.sets} of ${FT.nameOf(plan.exercise)}.`, "ok");
    if (happened === "step") say(`Next: ${FT.nameOf(plan.exercise)}, ${plan.step.reps} ${cfg.holds && cfg.holds.includes(plan.exercise) ? "seconds" : "reps"}.`, "ok");
    if (happened === "done") say("Plan complete. Well done!", "ok");
    renderPlan();
  }
  renderPlan();

  // ------------------------------------------------------------------ messages on the page
  function say(text, kind) {
    const box = $("trainer-message");
    box.textContent = text;
    box.className = `banner ${kind || "warn"}`;
    box.hidden = !text;
  }

  function cameraProblem(err) {
    const name = (err && err.name) || "";
    if (name === "NotAllowedError" || name === "PermissionDeniedError")
      return ["The camera is blocked.", "Allow the camera for this page (the camera icon in the address bar, or the " +
              "browser's site settings), then press Start camera again."];
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError")
      return ["No camera found.", "Plug in a webcam or switch it on, then press Start camera again."];
    if (name === "NotReadableError" || name === "TrackStartError")
      return ["The camera is busy.", "Another program (a video call?) is using it: close that program, then press " +
              "Start camera again."];
    if (name === "SecurityError" || name === "insecure")
      return ["The browser does not allow the camera here.", "Open the trainer as http://localhost:8000 on this " +
              "computer, or over https from another one."];
    return ["The camera could not start.", "Check that it is connected and not used by another program, then press " +
            "Start camera again."];
  }
  function showCameraError(err) {
    const [title, advice] = cameraProblem(err);
    setText("camera-error-title", title);
    setText("camera-error-advice", advice);
    $("camera-error").hidden = false;
    setCameraStatus("Camera unavailable", "bad");
  }

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

  // ------------------------------------------------------------------ the saved workout (also after a reload)
  function totalsText(totals) {
    const parts = [];
    for (const [ex, t] of Object.entries(totals || {})) {
      if (t.reps) parts.push(`${t.reps} ${FT.nameOf(ex).toLowerCase()}`);
      else if (t.hold_seconds >= 1) parts.push(`${FT.nameOf(ex)} ${FT.fmtClock(t.hold_seconds)}`);
    }
    return parts.join(" · ") || "nothing counted";
  }
  function showSaved(id, report) {
    const when = report && report.started_at ? new Date(report.started_at * 1000) : null;
    const at = when ? ` from ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "";
    setText("saved-text", report ? `Your workout${at} was saved: ${totalsText(report.totals)}.` : "Your workout was saved.");
    $("saved-link").href = `/analytics/${encodeURIComponent(id)}`;
    $("saved-banner").hidden = false;
    $("saved-banner").dataset.session = id;
    const link = $("report-link");
    link.href = `/analytics/${encodeURIComponent(id)}`;
    link.hidden = id !== session;
  }
  // The coach closes a session a moment after its end: ask a few times.
  function lookUpSaved(id, tries) {
    fetch(`/api/sessions/${encodeURIComponent(id)}/report.json`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((report) => {
        if (report && report.ended_at) showSaved(id, report);
        else if (tries > 1) setTimeout(() => lookUpSaved(id, tries - 1), 2000);
        else if (report) showSaved(id, report);
      })
      .catch(() => { if (tries > 1) setTimeout(() => lookUpSaved(id, tries - 1), 2000); });
  }
  $("saved-close").addEventListener("click", () => {
    $("saved-banner").hidden = true;
    localStorage.removeItem("ft-last-session");
  });
  const previous = localStorage.getItem("ft-last-session");
  if (previous) lookUpSaved(previous, 6);

  // ------------------------------------------------------------------ health and link before the camera starts
  function pollHealth() {
    fetch("/api/health", { credentials: "same-origin" }).then((r) => r.json()).then((h) => {
      FT.renderHealth($("health"), h);
      if (!streamer) setLink("Connected", "ok");
    }).catch(() => { if (!streamer) setLink("Trainer not reachable", "bad"); });
  }
  function setLink(text, cls) {
    const el = $("link-status");
    el.textContent = text;
    el.className = `status-pill ${cls}`;
  }
  pollHealth();
  setInterval(() => { if (!streamer) pollHealth(); }, 3000);

  // ------------------------------------------------------------------ camera and streaming
  function newSessionId() {
    const bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => (b % 36).toString(36)).join("");
  }
  setText("session-id", session);

  function setCameraStatus(text, cls) {
    const el = $("camera-status");
    el.textContent = text;
    el.className = `status-pill ${cls || ""}`;
  }

  // Draw the frame the pose was computed from, then its skeleton: never a pose on a later picture.
  function drawAnswer(canvas, answer) {
    const { ctx, w, h } = FT.fitCanvas(frameView);
    ctx.drawImage(canvas, 0, 0, w, h);
    frameView.classList.add("showing");
    lastAnswer = performance.now();
    skeleton.update(answer.lm && answer.lm.length ? answer : null);
    skeleton.draw();
    const badge = $("exercise-badge");
    if (answer.exercise && answer.exercise !== "none") { setText(badge, FT.nameOf(answer.exercise)); badge.classList.add("active"); }
  }
  setInterval(() => {
    if (performance.now() - lastAnswer > SHOW_LIVE_AFTER_MS) frameView.classList.remove("showing");
  }, 250);

  function showRates(r) {
    const pill = $("frames-status");
    pill.hidden = false;
    const lat = r.p50 === null ? "" : ` · ${Math.round(r.p50)} ms`;
    if (r.short || r.slow) {
      pill.className = "status-pill warn";
      pill.textContent = `Short of frames: ${Math.round(r.answered)} of ${Math.round(r.camera)}/s answered${lat}` +
        (r.level ? ` · sending ${r.side} px` : "");
    } else {
      pill.className = "status-pill ok";
      pill.textContent = `${Math.round(r.answered)} frames/s${lat}`;
    }
    setText("upload-stats", `camera ${Math.round(r.camera)}/s · sent ${Math.round(r.sent)}/s · answered ` +
            `${Math.round(r.answered)}/s` + (r.p50 === null ? "" : ` · skeleton ${Math.round(r.p50)} ms behind`));
  }

  const handlers = {
    hello: (m) => {
      setLink("Connected", "ok");
      FT.renderHealth($("health"), m.snapshot && m.snapshot.health);
      if (m.snapshot && m.snapshot.session) panel.apply(m.snapshot.session);
    },
    answered: drawAnswer,
    rates: showRates,
    refused: (m) => { say(m.message || "The trainer refused this session."); stopCamera(); },
    sessionEnd: (m) => {
      if (m.reason === "idle") { say(m.message, "warn"); stopCamera(); waitForSaved(); }
    },
    closed: (wasOpen, who) => {
      if (who !== streamer) return;   // the socket of an earlier session, closed after its last words
      streamer = null;
      if (!camera) { pollHealth(); return; }   // stopped on purpose: nothing lost
      if (camera) {
        say(wasOpen ? "The connection to the trainer was lost. Your workout so far is saved; press Start camera to go on."
                    : "Cannot reach the trainer. Is it running? Press Start camera to try again.", "warn");
        stopCamera();
        if (!wasOpen) {
          // Refused before it opened: the trainer may have filled up since the page asked (it answers 429 then).
          fetch("/api/trainee/capacity", { credentials: "same-origin" })
            .then((r) => (r.status === 429 ? r.json() : null)).then((full) => { if (full) say(full.message); })
            .catch(() => {});
        }
      }
      setLink(wasOpen ? "Disconnected" : "Trainer not reachable", "warn");
    },
    event: (type, data, who) => {
      if (who !== streamer && type !== "audio" && type !== "ended") return;
      if (type === "coach") { panel.apply(data); followPlan(data); }
      else if (type === "cue") setText("spoken-cue", data.text);
      else if (type === "audio") {
        if (data.session && data.session !== session) return;
        setText("spoken-cue", data.text);
        if (!muted) { queue.push(data); while (queue.length > 3) queue.shift(); playNext(); }
      } else if (type === "ended" && data.session === session) {
        // The coach has closed the session: it is in the history now; the report adds what was counted.
        showSaved(session, null);
        lookUpSaved(session, 3);
      }
      else if (type === "health") FT.renderHealth($("health"), data);
    },
  };

  async function start() {
    $("start").disabled = true;
    $("camera-error").hidden = true;
    say("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showCameraError({ name: "insecure" });
      $("start").disabled = false;
      return;
    }
    try {
      const r = await fetch("/api/trainee/capacity", { credentials: "same-origin" });
      if (r.status === 429) {
        say((await r.json()).message);
        $("start").disabled = false;
        return;
      }
    } catch (e) { /* the socket will say whether the trainer is there */ }
    try {
      camera = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" }, audio: false });
    } catch (err) {
      camera = null;
      showCameraError(err);
      $("start").disabled = false;
      return;
    }
    if (streamer) { streamer.close(); streamer = null; }
    if (used) session = newSessionId();
    used = true;
    setText("session-id", session);
    $("report-link").hidden = true;
    $("saved-banner").hidden = true;
    localStorage.setItem("ft-last-session", session);
    video.srcObject = camera;
    await video.play().catch(() => {});
    FT.setStageAspect(stage, video.videoWidth, video.videoHeight);
    stage.classList.add("live");
    $("stop").disabled = false;
    setCameraStatus("Camera on", "ok");
    streamer = new FT.Streamer(video, handlers);
    streamer.start(session, chosenExercise);
  }

  function stopCamera() {
    if (camera) camera.getTracks().forEach((t) => t.stop());
    camera = null;
    video.srcObject = null;
    stage.classList.remove("live");
    frameView.classList.remove("showing");
    skeleton.update(null);
    $("stop").disabled = true;
    $("start").disabled = false;
    setCameraStatus("Camera off", "");
    $("frames-status").hidden = true;
  }

  function waitForSaved() {
    setText("upload-stats", "Saving your workout…");
    const id = session;
    setTimeout(() => { if ($("saved-banner").hidden) lookUpSaved(id, 5); }, 3000);
  }

  function stop() {
    const wasRunning = !!camera;
    if (streamer) streamer.stop();   // the socket stays open for the set summary and the "saved" news
    stopCamera();
    if (wasRunning) waitForSaved();
  }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
})();

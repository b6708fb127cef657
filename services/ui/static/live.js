// Shared by the live pages: the event stream, skeleton drawing, the coach panel, health and the reference figure.
"use strict";

const FT = (() => {
  const cfg = window.FT_CONFIG || {};
  const CONNECTIONS = cfg.connections || [];
  const NAMES = cfg.names || {};
  const ADVICE = cfg.advice || {};
  const LEFT = new Set([11, 13, 15, 23, 25, 27, 29, 31]);
  const RIGHT = new Set([12, 14, 16, 24, 26, 28, 30, 32]);
  const MIN_VISIBILITY = 0.35;

  const $ = (id) => document.getElementById(id);

  function setText(id, text) {
    const el = typeof id === "string" ? $(id) : id;
    if (el && el.textContent !== String(text)) el.textContent = text;
  }

  function nameOf(exercise) {
    return NAMES[exercise] || (exercise || "").replace(/_/g, " ");
  }

  function fmtClock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  // EventSource reconnects by itself; we only show whether the link is up.
  function stream(url, handlers, statusEl) {
    const source = new EventSource(url);
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (ev) => {
        let data;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        fn(data);
      });
    }
    const status = typeof statusEl === "string" ? $(statusEl) : statusEl;
    source.onopen = () => { if (status) { status.textContent = "Connected"; status.className = "status-pill ok"; } };
    source.onerror = () => { if (status) { status.textContent = "Reconnecting…"; status.className = "status-pill warn"; } };
    return source;
  }

  // Size a canvas to its box in device pixels; returns the context scaled to CSS pixels.
  function fitCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h };
  }

  function drawSkeleton(ctx, lm, w, h, opts = {}) {
    if (!lm || lm.length < 33) return;
    const scale = opts.scale || Math.max(1.5, Math.min(w, h) / 160);
    const px = (p) => [p[0] * w, p[1] * h];
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const pass of [0, 1]) {  // a dark halo under light bones keeps them readable on any background
      ctx.strokeStyle = pass ? (opts.bone || "rgba(255,255,255,0.95)") : "rgba(10,20,40,0.55)";
      ctx.lineWidth = pass ? 2.2 * scale : 4.4 * scale;
      ctx.beginPath();
      for (const [a, b] of CONNECTIONS) {
        const pa = lm[a], pb = lm[b];
        if (!pa || !pb || pa[2] < MIN_VISIBILITY || pb[2] < MIN_VISIBILITY) continue;
        const [x1, y1] = px(pa), [x2, y2] = px(pb);
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
      }
      ctx.stroke();
    }
    for (let i = 11; i < 33; i++) {
      const p = lm[i];
      if (!p || p[2] < MIN_VISIBILITY) continue;
      const [x, y] = px(p);
      ctx.fillStyle = LEFT.has(i) ? "#ffb020" : RIGHT.has(i) ? "#2fc6ff" : "#ffffff";
      ctx.beginPath();
      ctx.arc(x, y, 2.6 * scale, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  // Keeps the newest pose and draws it on every animation frame; clears it when poses stop coming.
  class SkeletonLayer {
    constructor(canvas, opts = {}) {
      this.canvas = canvas;
      this.opts = opts;
      this.pose = null;
      this.at = 0;
      const tick = () => { this.draw(); requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    }
    update(pose) { this.pose = pose; this.at = performance.now(); }
    draw() {
      const { ctx, w, h } = fitCanvas(this.canvas);
      ctx.clearRect(0, 0, w, h);
      if (this.opts.background) { ctx.fillStyle = this.opts.background; ctx.fillRect(0, 0, w, h); }
      if (!this.pose || performance.now() - this.at > 1500) return;
      if (this.opts.fit && this.pose.width && this.pose.height) {
        // Letterbox like the video under it (object-fit: contain), so bones land on the body.
        const k = Math.min(w / this.pose.width, h / this.pose.height);
        const cw = this.pose.width * k, ch = this.pose.height * k;
        ctx.translate((w - cw) / 2, (h - ch) / 2);
        drawSkeleton(ctx, this.pose.lm, cw, ch, this.opts);
        return;
      }
      drawSkeleton(ctx, this.pose.lm, w, h, this.opts);
    }
  }

  function renderHealth(list, health) {
    if (!list) return;
    list.innerHTML = "";
    const services = (health && health.services) || [];
    if (!services.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No health report: is the supervisor running?";
      list.appendChild(li);
      return;
    }
    const stale = health.report_age_s !== null && health.report_age_s > 5;
    const groups = new Map();
    for (const s of services) {
      const g = groups.get(s.service) || { name: s.service, total: 0, alive: 0, restarts: 0, age: 0, missing: false,
                                           unhealthy: [] };
      g.missing = g.missing || !!s.missing;
      if (s.alive && s.health && s.health !== "ok") g.unhealthy.push(s.reason || s.health);
      g.total += 1;
      g.alive += s.alive ? 1 : 0;
      g.restarts += s.restarts || 0;
      g.age = Math.max(g.age, s.age_s || 0);
      groups.set(s.service, g);
    }
    const order = cfg.services || [];
    const rank = (name) => (order.indexOf(name) + order.length + 1) % (order.length + 1);  // unknown ones last
    for (const g of [...groups.values()].sort((a, b) => rank(a.name) - rank(b.name))) {
      const li = document.createElement("li");
      const ok = g.alive === g.total && !stale && !g.unhealthy.length;
      li.className = ok ? "ok" : (g.alive && !g.unhealthy.length ? "warn" : "bad");
      li.dataset.service = g.name;
      const label = document.createElement("span");
      label.className = "svc-name";
      label.textContent = g.total > 1 && !g.missing ? `${g.name} ×${g.total}` : g.name;
      const detail = document.createElement("span");
      detail.className = "svc-detail";
      detail.textContent = g.missing ? "not reporting" : stale ? "report is stale"
        : g.unhealthy.length ? `unhealthy: ${g.unhealthy[0]}`
        : (g.alive === g.total ? "running" : `${g.alive}/${g.total} alive`) + (g.restarts ? ` · ${g.restarts} restarts` : "");
      if (g.unhealthy.length) li.title = g.unhealthy.join("\n");
      li.append(label, detail);
      list.appendChild(li);
    }
  }

  // ------------------------------------------------------------------ reference figure
  const BODY = [[11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24], [23, 25], [25, 27],
                [24, 26], [26, 28], [27, 31], [28, 32], [27, 29], [28, 30]];

  class Reference {
    constructor(canvas, nameEl, adviceEl) {
      this.canvas = canvas;
      this.nameEl = nameEl;
      this.adviceEl = adviceEl;
      this.data = null;
      this.exercise = null;
      this.pinned = false;
      this.cycleAt = 0;
      fetch("/static/keyframes.json").then((r) => r.json()).then((d) => { this.data = d; }).catch(() => {});
      const tick = (t) => { this.draw(t); requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    }
    show(exercise) {
      // No exercise detected yet: cycle through all of them, so the figure doubles as a menu of what is known.
      this.pinned = !!(exercise && exercise !== "none");
      if (this.pinned) this.setExercise(exercise);
    }
    setExercise(exercise) {
      if (this.exercise === exercise) return;
      this.exercise = exercise;
      this.started = performance.now();
      setText(this.nameEl, nameOf(exercise));
      setText(this.adviceEl, ADVICE[exercise] ? `Camera: ${ADVICE[exercise]}` : "");
    }
    draw(now) {
      if (!this.data) return;
      const names = Object.keys(this.data.exercises);
      if (!this.pinned && now > this.cycleAt) {
        const next = names[(names.indexOf(this.exercise) + 1) % names.length];
        this.setExercise(next);
        this.cycleAt = now + 5000;
      }
      const ref = this.data.exercises[this.exercise];
      const { ctx, w, h } = fitCanvas(this.canvas);
      ctx.clearRect(0, 0, w, h);
      if (!ref) return;
      const period = (ref.period_s || 2) * 1000;
      const t = ((now - (this.started || 0)) % period) / period;
      const u = 0.5 - 0.5 * Math.cos(2 * Math.PI * t);  // start -> end -> start, easing at both ends
      const pose = ref.start.map((p, i) => [p[0] + (ref.end[i][0] - p[0]) * u, p[1] + (ref.end[i][1] - p[1]) * u]);
      const pad = 14;
      const boxH = h - 2 * pad - 14, boxW = boxH * ref.aspect;
      const scale = Math.min((w - 2 * pad) / ref.aspect, boxH);
      const ox = (w - scale * ref.aspect) / 2, oy = pad + (boxH - scale) / 2;
      const at = (p) => [ox + p[0] * scale * ref.aspect, oy + p[1] * scale];
      ctx.strokeStyle = "#d9dee7";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(pad, oy + scale + 4);
      ctx.lineTo(w - pad, oy + scale + 4);
      ctx.stroke();
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      const thick = Math.max(4, scale / 22);
      for (const [a, b] of BODY) {
        const [x1, y1] = at(pose[a]), [x2, y2] = at(pose[b]);
        ctx.strokeStyle = LEFT.has(a) && LEFT.has(b) ? "#3b6ef5" : RIGHT.has(a) && RIGHT.has(b) ? "#7ea0ff" : "#2a3a66";
        ctx.lineWidth = thick;
        ctx.beginPath();
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
        ctx.stroke();
      }
      const [hx, hy] = at(pose[0]);
      const [s1x, s1y] = at(pose[11]), [s2x, s2y] = at(pose[12]);
      const neckX = (s1x + s2x) / 2, neckY = (s1y + s2y) / 2;
      ctx.strokeStyle = "#2a3a66";
      ctx.beginPath();
      ctx.moveTo(neckX, neckY);
      ctx.lineTo(neckX + (hx - neckX) * 0.55, neckY + (hy - neckY) * 0.55);
      ctx.stroke();
      ctx.fillStyle = "#2a3a66";
      ctx.beginPath();
      ctx.arc(hx, hy, thick * 1.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = "#6b7585";
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(ref.hold ? "hold still" : (u < 0.5 ? "start" : "end"), w / 2, h - 4);
    }
  }

  // ------------------------------------------------------------------ coach panel (trainee and watch pages)
  class CoachPanel {
    constructor(reference) {
      this.reference = reference;
      this.lastReps = {};
    }
    apply(v) {
      if (!v) return;
      const badge = $("exercise-badge");
      if (badge) {
        setText(badge, v.exercise !== "none" ? v.exercise_name
          : (v.current !== "none" ? `${v.current_name} · paused` : "Waiting for movement"));
        badge.classList.toggle("active", v.exercise !== "none");
      }
      const phase = $("phase-badge");
      if (phase) { phase.hidden = !v.phase || v.exercise === "none"; setText(phase, v.phase === "end" ? "down / end" : "up / start"); }
      setText("count-exercise", v.current !== "none" ? v.current_name : "No exercise yet");
      $("count-block").hidden = !!v.is_hold;
      $("hold-block").hidden = !v.is_hold;
      const count = $("rep-count");
      if (count.textContent !== String(v.count)) {
        count.textContent = String(v.count);
        count.classList.remove("bump");
        void count.offsetWidth;  // restart the animation
        count.classList.add("bump");
      }
      setText("hold-timer", fmtClock(v.hold_s));
      // Phones show the video first; a small count over it keeps the number in sight.
      setText("hud-count", v.is_hold ? fmtClock(v.hold_s) : String(v.count));
      setText("hud-label", v.current !== "none" ? (v.is_hold ? v.current_name : `${v.current_name.toLowerCase()}`) : "reps");
      setText("hold-label", v.holding ? "holding — keep going" : "plank hold");
      $("hold-timer").classList.toggle("holding", !!v.holding);
      setText("set-number", v.set_number ? `Set ${v.set_number}` : "Set —");
      setText("reps-in-set", v.reps_in_set || 0);
      setText("form-score", v.form_score === null || v.form_score === undefined ? "—" : `${v.form_score}/100`);
      this.renderCorrections(v);
      this.renderSetup(v);
      this.renderTotals(v);
      if (v.last_cue) setText("spoken-cue", v.last_cue);
      if (this.reference) this.reference.show(v.current);
    }
    renderCorrections(v) {
      const list = $("corrections");
      if (!list) return;
      const items = v.cues && v.cues.length ? v.cues : null;
      const key = JSON.stringify(items) + v.body_visible + v.exercise + v.live;
      if (list.dataset.key === key) return;
      list.dataset.key = key;
      list.innerHTML = "";
      if (!items) {
        // Praise only what is being watched now: after the trainee leaves, "Good form" would be a stale word.
        const li = document.createElement("li");
        const watching = v.exercise !== "none" && v.body_visible && v.live !== false;
        li.className = watching ? "good" : "muted";
        li.textContent = watching ? "Good form — keep it up."
          : (v.current !== "none" && !v.body_visible ? "Nobody in view: corrections resume when you are back in the picture."
             : "Corrections appear here while you move.");
        list.appendChild(li);
        return;
      }
      for (const text of items) {
        const li = document.createElement("li");
        li.className = "fix";
        li.textContent = text;
        list.appendChild(li);
      }
    }
    renderSetup(v) {
      const list = $("setup-warnings");
      if (!list) return;
      const key = JSON.stringify(v.setup || []);
      if (list.dataset.key === key) return;
      list.dataset.key = key;
      list.innerHTML = "";
      for (const text of v.setup || []) {
        const li = document.createElement("li");
        li.textContent = text;
        list.appendChild(li);
      }
    }
    renderTotals(v) {
      const box = $("session-totals");
      if (!box) return;
      const parts = [];
      for (const [ex, n] of Object.entries(v.reps || {})) if (n) parts.push([ex, `${n} ${nameOf(ex).toLowerCase()}`]);
      for (const [ex, s] of Object.entries(v.hold_seconds || {})) if (s >= 1) parts.push([ex, `${nameOf(ex)} ${fmtClock(s)}`]);
      const key = JSON.stringify(parts);
      if (box.dataset.key === key) return;
      box.dataset.key = key;
      box.innerHTML = "";
      for (const [ex, text] of parts) {
        const chip = document.createElement("span");
        chip.className = `chip ex-${ex}`;
        chip.textContent = text;
        box.appendChild(chip);
      }
    }
  }

  // Match the stage's shape to the video so the overlay's 0..1 coordinates land on the picture.
  function setStageAspect(stage, width, height) {
    if (!stage || !width || !height) return;
    const aspect = width / height;
    if (Math.abs(parseFloat(stage.dataset.aspect || "0") - aspect) < 1e-3) return;
    stage.dataset.aspect = String(aspect);
    stage.style.setProperty("--aspect", String(aspect));
    stage.classList.toggle("portrait", aspect < 1);
  }

  return { $, setText, nameOf, fmtClock, stream, fitCanvas, drawSkeleton, SkeletonLayer, renderHealth, Reference,
           CoachPanel, setStageAspect };
})();

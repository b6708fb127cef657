// The trainee tab's WebSocket: camera frames up with flow control, each answered with its pose (or dropped).
// Frames are kept by id until answered, so the skeleton is drawn on the very frame it was computed from.
"use strict";

FT.Streamer = (() => {
  // Frame size and JPEG quality, best first; the page steps down when answers come slowly, and back up.
  const LEVELS = [{ side: 640, quality: 0.8 }, { side: 480, quality: 0.7 }, { side: 360, quality: 0.6 }];
  const LOST_AFTER_MS = 3000;     // an unanswered frame this old is given up (the server says so after 2 s)
  const SLOW_P50_MS = 150;        // answers slower than this ...
  const SHORT_SHARE = 0.8;        // ... or fewer than this share of camera frames answered: step down
  const WINDOWS_TO_STEP_DOWN = 2, WINDOWS_TO_STEP_UP = 5;
  const KEEP_LATENCIES = 20000;
  // Drops that mean the trainer had a newer frame of ours waiting, or no room: more in flight only wastes work.
  const CROWDED = new Set(["skipped", "overtaken", "busy", "in_flight"]);
  const ANSWERS_TO_WIDEN = 30;    // answers in a row without such a drop before one more frame may be in flight

  function percentileOf(values, q) {
    if (!values.length) return null;
    const s = [...values].sort((a, b) => a - b);
    const i = (s.length - 1) * q;
    const lo = Math.floor(i), hi = Math.ceil(i);
    return s[lo] + (s[hi] - s[lo]) * (i - lo);
  }

  class Streamer {
    constructor(video, handlers) {
      this.video = video;
      this.h = handlers;
      this.ws = null;
      this.open = false;
      this.running = false;
      this.maxInFlight = 2;          // the server's limit
      this.allowed = 2;              // what this tab uses now: narrowed when the trainer is crowded
      this.calm = 0;
      this.inFlight = new Map();     // frame id -> {canvas, t}
      this.pool = [];
      this.shown = null;             // the canvas on screen, kept out of the pool while it shows
      this.nextId = 1;
      this.pending = false;          // a camera frame came while every slot was taken
      this.level = 0;
      this.badWindows = 0;
      this.goodWindows = 0;
      // Cumulative counters; the benchmark reads them as window.__ftStats.
      this.stats = { camera: 0, sent: 0, answered: 0, dropped: 0, lost: 0, waited: 0, bytes: 0, latencies: [],
                     level: 0, short: false, drops: {} };
      this.window = { at: performance.now(), camera: 0, sent: 0, answered: 0, latencies: [] };
      window.__ftStats = this.stats;
    }

    start(session, exerciseOf) {
      this.session = session;
      this.exerciseOf = exerciseOf;
      this.running = true;
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}/ws/trainee/${encodeURIComponent(session)}`);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onmessage = (ev) => this.onMessage(ev);
      ws.onclose = () => {
        const wasOpen = this.open;
        this.open = false;
        this.ws = null;
        if (this.h.closed) this.h.closed(wasOpen, this);
      };
      this.loop();
      this.windowTimer = setInterval(() => this.measure(), 1000);
    }

    // Frames stop; the socket stays open for the last words (set summary, "saved") until close().
    stop() {
      this.running = false;
      clearInterval(this.windowTimer);
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "stop" }));
      for (const f of this.inFlight.values()) this.pool.push(f.canvas);
      this.inFlight.clear();
    }

    close() {
      this.stop();
      if (this.ws) this.ws.close();
    }

    loop() {
      const video = this.video;
      if (video.requestVideoFrameCallback) {
        const next = () => { if (!this.running) return; this.onCameraFrame(); video.requestVideoFrameCallback(next); };
        video.requestVideoFrameCallback(next);
      } else {
        const timer = setInterval(() => { if (!this.running) { clearInterval(timer); return; } this.onCameraFrame(); },
                                  1000 / 30);
      }
    }

    onCameraFrame() {
      this.stats.camera += 1;
      this.window.camera += 1;
      if (!this.open || this.video.readyState < 2 || !this.video.videoWidth) return;
      const now = performance.now();
      for (const [id, f] of this.inFlight) {
        if (now - f.t > LOST_AFTER_MS) { this.forget(id); this.stats.lost += 1; }
      }
      if (this.inFlight.size >= this.allowed) { this.stats.waited += 1; this.pending = true; return; }
      this.grab();
    }

    // A slot came free: the camera frame that found every slot taken goes now, not at the next camera frame.
    sendPending() {
      if (!this.pending || !this.running || !this.open || this.inFlight.size >= this.allowed) return;
      if (this.video.readyState < 2 || !this.video.videoWidth) return;
      this.pending = false;
      this.grab();
    }

    grab() {
      const { side, quality } = LEVELS[this.level];
      const vw = this.video.videoWidth, vh = this.video.videoHeight;
      const scale = Math.min(1, side / Math.max(vw, vh));
      const w = Math.round(vw * scale), h = Math.round(vh * scale);
      const canvas = this.pool.pop() || document.createElement("canvas");
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      canvas.getContext("2d").drawImage(this.video, 0, 0, w, h);
      const id = this.nextId++;
      const t = performance.now();
      this.inFlight.set(id, { canvas, t });
      canvas.toBlob((blob) => {
        if (!blob || !this.open || !this.inFlight.has(id)) { this.forget(id); return; }
        const head = new TextEncoder().encode(JSON.stringify({ id, t, exercise: this.exerciseOf() || "" }));
        const size = new Uint8Array([head.length >> 8, head.length & 255]);
        this.ws.send(new Blob([size, head, blob]));
        this.stats.sent += 1;
        this.window.sent += 1;
        this.stats.bytes += blob.size;
      }, "image/jpeg", quality);
    }

    forget(id) {
      const f = this.inFlight.get(id);
      if (!f) return null;
      this.inFlight.delete(id);
      if (f.canvas !== this.shown) this.pool.push(f.canvas);
      return f;
    }

    onMessage(ev) {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      switch (m.type) {
        case "hello":
          this.open = true;
          this.maxInFlight = Math.max(1, m.frames_in_flight || 1);
          this.allowed = this.maxInFlight;
          if (this.h.hello) this.h.hello(m);
          break;
        case "answered": {
          const f = this.inFlight.get(m.id);
          if (!f) break;
          this.inFlight.delete(m.id);
          if (this.h.answered) this.h.answered(f.canvas, m);   // draws the frame and its skeleton
          if (this.shown && this.shown !== f.canvas) this.pool.push(this.shown);
          this.shown = f.canvas;
          const ms = performance.now() - f.t;
          this.stats.answered += 1;
          this.window.answered += 1;
          this.window.latencies.push(ms);
          this.stats.latencies.push([performance.now(), ms, m.server_ms]);
          if (this.stats.latencies.length > KEEP_LATENCIES) this.stats.latencies.splice(0, 1000);
          this.calm += 1;
          if (this.calm >= ANSWERS_TO_WIDEN && this.allowed < this.maxInFlight) { this.allowed += 1; this.calm = 0; }
          this.sendPending();
          break;
        }
        case "dropped":
          if (m.id !== null && m.id !== undefined) this.forget(m.id);
          this.stats.dropped += 1;
          this.stats.drops[m.reason] = (this.stats.drops[m.reason] || 0) + 1;
          if (CROWDED.has(m.reason)) {
            // Other tabs share the pose workers: one frame at a time, and wait for the camera's next frame.
            this.allowed = 1;
            this.calm = 0;
          } else {
            this.sendPending();
          }
          break;
        case "limit":   // other tabs started or stopped streaming: the frames in flight are shared out anew
          this.maxInFlight = Math.max(1, m.frames_in_flight || 1);
          this.allowed = Math.min(Math.max(this.allowed, 1), this.maxInFlight);
          break;
        case "refused":
          if (this.h.refused) this.h.refused(m);
          break;
        case "session_end":
          this.running = false;
          if (this.h.sessionEnd) this.h.sessionEnd(m);
          break;
        default:
          if (this.h.event) this.h.event(m.type, m.data, this);
      }
    }

    // Once a second: rates of the last second, and a step down (or up) in frame size and quality.
    measure() {
      const now = performance.now();
      const w = this.window;
      const seconds = Math.max(0.001, (now - w.at) / 1000);
      const camera = w.camera / seconds, sent = w.sent / seconds, answered = w.answered / seconds;
      const p50 = percentileOf(w.latencies, 0.5), p95 = percentileOf(w.latencies, 0.95);
      const short = camera >= 5 && answered < SHORT_SHARE * camera;
      const slow = p50 !== null && p50 > SLOW_P50_MS;
      if (short || slow) { this.badWindows += 1; this.goodWindows = 0; } else { this.goodWindows += 1; this.badWindows = 0; }
      if (this.badWindows >= WINDOWS_TO_STEP_DOWN && this.level < LEVELS.length - 1) { this.level += 1; this.badWindows = 0; }
      if (this.goodWindows >= WINDOWS_TO_STEP_UP && this.level > 0 && p50 !== null && p50 < SLOW_P50_MS / 2) {
        this.level -= 1;
        this.goodWindows = 0;
      }
      this.stats.level = this.level;
      this.stats.allowed = this.allowed;
      this.stats.short = short;
      this.window = { at: now, camera: 0, sent: 0, answered: 0, latencies: [] };
      if (this.h.rates) {
        this.h.rates({ camera, sent, answered, p50, p95, short, slow, side: LEVELS[this.level].side,
                       quality: LEVELS[this.level].quality, level: this.level });
      }
    }
  }

  return Streamer;
})();

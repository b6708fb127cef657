// Instructor page: one live card per session (count, exercise, latest correction, mini skeleton or video).
"use strict";

(() => {
  const { $, setText, fmtClock } = FT;
  const grid = $("grid");
  const cards = new Map();   // session -> {el, skeleton, data}
  const showEnded = $("show-ended");

  function sourceLabel(source) {
    if (!source) return "";
    if (source === "browser") return "Browser camera";
    if (source.startsWith("file:")) return "Video " + source.slice(5).split("/").pop();
    if (source.startsWith("camera:")) return "Camera " + source.slice(7);
    return source;
  }

  function cardFor(session) {
    let c = cards.get(session);
    if (c) return c;
    const el = $("card-template").content.firstElementChild.cloneNode(true);
    el.dataset.session = session;
    el.querySelector(".sid").textContent = session;
    el.querySelector(".sid").title = session;
    el.querySelector(".watch").href = `/watch/${encodeURIComponent(session)}`;
    el.querySelector(".report").href = `/analytics/${encodeURIComponent(session)}`;
    grid.appendChild(el);
    c = { el, skeleton: new FT.SkeletonLayer(el.querySelector("canvas"), { scale: 1.2, fit: true }), data: {}, video: false };
    cards.set(session, c);
    return c;
  }

  function update(v) {
    if (!v || !v.session) return;
    const c = cardFor(v.session);
    Object.assign(c.data, v);
    const d = c.data;
    const el = c.el;
    el.classList.toggle("ended", !!d.ended);
    el.classList.toggle("idle", !!d.idle && !d.ended);
    const state = el.querySelector(".state");
    state.textContent = d.ended ? "Ended" : d.idle ? "Idle" : "Live";
    state.className = `status-pill state ${d.ended ? "" : d.idle ? "warn" : "ok"}`;
    setText(el.querySelector(".source"), sourceLabel(d.source));
    if (d.current !== undefined) {
      setText(el.querySelector(".count"), d.is_hold ? fmtClock(d.hold_s) : String(d.count || 0));
      setText(el.querySelector(".what"), d.current !== "none"
        ? (d.is_hold ? `${d.current_name}${d.holding ? " · holding" : ""}` : `${d.current_name.toLowerCase()}`)
        : "no exercise yet");
      setText(el.querySelector(".sets"), d.set_number ? `Set ${d.set_number} · ${d.reps_in_set} in this set` +
        (d.form_score !== null && d.form_score !== undefined ? ` · form ${d.form_score}/100` : "") : "");
      const corr = el.querySelector(".correction");
      const text = (d.cues && d.cues[0]) || (d.setup && d.setup[0]) || d.last_correction || "";
      setText(corr, text || "No corrections");
      corr.classList.toggle("none", !text);
    }
    el.querySelector(".report").hidden = !d.ended;
    if (d.has_video && !c.video && !d.ended) {
      // File/camera sources publish a preview: show it under the skeleton.
      const img = document.createElement("img");
      img.alt = "";
      img.src = `/api/video/${encodeURIComponent(v.session)}`;
      el.querySelector(".mini-stage").prepend(img);
      el.querySelector(".mini-empty").hidden = true;
      c.video = true;
    }
    layout();
  }

  function layout() {
    let visible = 0;
    for (const c of cards.values()) {
      const hide = (c.data.ended || c.data.idle) && !showEnded.checked;
      c.el.hidden = hide;
      if (!hide) visible += 1;
    }
    $("empty").hidden = visible > 0;
    const live = [...cards.values()].filter((c) => !c.data.ended && !c.data.idle).length;
    setText("grid-summary", live === 1 ? "1 session live now." : `${live} sessions live now.`);
  }

  showEnded.addEventListener("change", layout);
  FT.stream("/api/stream?poses=lite", {
    snapshot: (d) => { for (const s of d.sessions) update(s); FT.renderHealth($("health"), d.health); layout(); },
    session: update,
    coach: update,
    pose: (p) => {
      const c = cards.get(p.session);
      if (!c) return;
      c.skeleton.update(p);
      if (p.lm && p.lm.length) c.el.querySelector(".mini-empty").hidden = true;
    },
    ended: (d) => update({ session: d.session, ended: true }),
    gone: (d) => { const c = cards.get(d.session); if (c) { c.el.remove(); cards.delete(d.session); layout(); } },
    health: (h) => FT.renderHealth($("health"), h),
  }, "link-status");
  layout();
})();

// Watch page: a file/camera session's MJPEG with the skeleton drawn over it and the coach's view beside it.
"use strict";

(() => {
  const { $, setText } = FT;
  const stage = $("stage");
  const session = stage.dataset.session;
  const panel = new FT.CoachPanel(new FT.Reference($("reference"), $("reference-name"), $("reference-advice")));
  const skeleton = new FT.SkeletonLayer($("overlay"));

  function sourceLabel(source) {
    if (source === "browser") return "browser camera";
    if (source.startsWith("file:")) return "video " + source.slice(5).split("/").pop();
    if (source.startsWith("camera:")) return "camera " + source.slice(7);
    return source;
  }

  function showSession(card) {
    if (!card) return;
    FT.setStageAspect(stage, card.width, card.height);
    setText("source", card.source ? `Source: ${sourceLabel(card.source)}` : "");
    const status = $("session-status");
    status.textContent = card.ended ? "Ended" : card.idle ? "No data for a while" : "Live";
    status.className = `status-pill ${card.ended ? "" : card.idle ? "warn" : "ok"}`;
    $("no-video").hidden = card.has_video || !card.live;
    $("report-link").hidden = !card.ended;
  }

  FT.stream(`/api/stream?session=${encodeURIComponent(session)}&poses=all`, {
    snapshot: (d) => {
      FT.renderHealth($("health"), d.health);
      if (d.session) { panel.apply(d.session); showSession(d.session); }
    },
    session: (card) => showSession(card),
    coach: (v) => panel.apply(v),
    pose: (p) => { FT.setStageAspect(stage, p.width, p.height); skeleton.update(p); },
    cue: (c) => setText("spoken-cue", c.text),
    audio: (a) => setText("spoken-cue", a.text),
    ended: () => { $("report-link").hidden = false; setText("session-status", "Ended"); },
    health: (h) => FT.renderHealth($("health"), h),
  }, "link-status");
  // The MJPEG never finishes loading, so it starts after the page has (else "load" would never fire).
  // It ends when the session is forgotten; try again later in case it comes back.
  const feed = $("feed");
  const openFeed = () => { feed.src = `/api/video/${encodeURIComponent(session)}?t=${Date.now()}`; };
  feed.addEventListener("error", () => setTimeout(openFeed, 3000));
  if (document.readyState === "complete") openFeed(); else window.addEventListener("load", openFeed);
})();

"""`fitness-trainer soak`: a real clip replayed live, session after session, through every service while faults
are injected at random; prints counts vs offline, restarts, unhealthy spells and memory per service (JSON)."""
from __future__ import annotations

import datetime
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import zmq

from common import bus as busmod
from common.config import PROJECT_ROOT
from common.messages import CoachUpdate, FrameSkipped, PoseResult, ProtocolError, SessionSummary
from launcher.analyze import ipc_settings
from launcher.supervisor import ServiceSpec, Supervisor, pipeline_specs
from offline import soak_faults as faults
from offline.bench import default_clip, machine, memory_growth, service_of

KILLABLE = ("broker", "pose", "classifier", "coach", "relay", "speech", "ui")
# How often each fault is picked (a kill is what happens most in real life: a crash, the OOM killer).
WEIGHTS = {"kill": 4, "bad_frames": 2, "stranger_heartbeats": 1, "flood": 1, "store_readonly": 1}
READONLY_S = 20.0
SAMPLE_S = 2.0
# Memory is compared from this share of the run on (the pose workers fill their trackers during the first floods).
WARMUP_SHARE, WARMUP_MIN_S = 0.25, 30.0
OFFLINE_SESSION = "soak-offline"


@dataclass
class SoakRun:
    clip: Path
    seconds: float
    fault_every: float = 20.0
    seed: int = 0
    pose_workers: int = 2
    log_dir: str | None = None
    say: object = print
    rng: random.Random = field(init=False)
    injected: list = field(default_factory=list)        # (t, kind, detail)
    summaries: dict = field(default_factory=dict)       # session -> summary
    started_sessions: list = field(default_factory=list)  # (session, t)
    bad_answers: dict = field(default_factory=lambda: {"bad_frame": 0, "other_skip": 0, "pose": 0})
    unhealthy: dict = field(default_factory=dict)       # label -> {"seconds", "reasons"}
    rss: dict = field(default_factory=dict)             # label -> [(t, MB)]
    last_update: float = 0.0                            # when the trainee last heard from the coach
    freezes: list = field(default_factory=list)         # [victim service, seconds until the next coach update]
    _waiting: list = field(default_factory=list)        # kills whose freeze is still being measured

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self._lock: faults.FileLock | None = None

    # ------------------------------------------------------------------ the run
    def run(self) -> dict:
        with tempfile.TemporaryDirectory(prefix="ft-soak-") as tmp:
            self.settings = ipc_settings(tmp, ui_port=0, source="webcam")
            specs = pipeline_specs(self.settings, self.pose_workers)
            self.sup = Supervisor(self.settings, specs, log_dir=self.log_dir or str(Path(tmp) / "logs"))
            self.ctx = zmq.Context.instance()
            self.subs = self._subscribe()
            self.sup.start_all()
            try:
                self.sup.wait_ready([s.name for s in specs], timeout_s=180)
                return self._run_started()
            finally:
                for sock in self.subs:
                    sock.close(linger=0)
                self.sup.stop_all()
                self._lock_release()

    def _run_started(self) -> dict:
        self.t0 = time.time()
        self.load_at_start = round(os.getloadavg()[0], 2)
        self.say("offline reference pass ...")
        reference = self._offline_reference()
        self.say(f"reference: {reference['totals']}; live replay with faults for {self.seconds / 60:.1f} min ...")
        deadline = time.time() + self.seconds
        next_fault = time.time() + self.rng.expovariate(1.0 / self.fault_every)
        unlock_at = 0.0
        capture = None
        next_sample = 0.0
        n = 0
        while time.time() < deadline or (capture is not None and capture.poll() is None):
            now = time.time()
            if (capture is None or capture.poll() is not None) and now < deadline:
                session = f"soak-live-{n}"
                n += 1
                capture = self._start_capture(session, live=True)
                self.started_sessions.append((session, now - self.t0))
            if now >= next_fault and now < deadline:
                unlock_at = self._inject(now) or unlock_at
                next_fault = now + self.rng.expovariate(1.0 / self.fault_every)
            if unlock_at and now >= unlock_at:
                self._lock_release()
                unlock_at = 0.0
            self._pump(100)
            if now >= next_sample:
                self._sample(now)
                next_sample = now + SAMPLE_S
        self._lock_release()
        drain_until = time.time() + 10
        while time.time() < drain_until and not all(s in self.summaries for s, _ in self.started_sessions):
            self._pump(100)
        self._sample(time.time())
        restarts = {m.label: m.total_restarts for m in self.sup.managed if m.total_restarts}
        ignored = dict(self.sup.monitor.ignored)
        invented = sorted(i for i in self.sup.monitor.instances if i.startswith("stranger:"))
        self.sup.stop_all()   # a clean stop: every session must be closed in the store
        return self._result(reference, restarts, ignored, invented, self._open_sessions())

    def _subscribe(self) -> list[zmq.Socket]:
        coach = self.ctx.socket(zmq.SUB)
        coach.setsockopt(zmq.SUBSCRIBE, b"session_summary")
        coach.setsockopt(zmq.SUBSCRIBE, b"coach_update")
        poses = self.ctx.socket(zmq.SUB)
        for topic in (b"pose", b"frame_skipped"):
            poses.setsockopt(zmq.SUBSCRIBE, topic)
        for sock, endpoint in ((coach, self.settings.coach), (poses, self.settings.poses)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.connect(endpoint)
        return [coach, poses]

    def _start_capture(self, session: str, live: bool):
        args = ["--source", str(self.clip), "--no-ingest", "--no-preview", "--exit-at-end", "--session", session,
                "--realtime" if live else "--no-realtime"]
        return self.sup.add(ServiceSpec("capture", "services.capture", args, restart=False))

    def _offline_reference(self) -> dict:
        self._start_capture(OFFLINE_SESSION, live=False)
        deadline = time.time() + 300
        while OFFLINE_SESSION not in self.summaries:
            if time.time() > deadline:
                raise RuntimeError("the offline reference pass gave no summary in 300 s")
            self._pump(100)
        return self.summaries.pop(OFFLINE_SESSION)

    def _pump(self, timeout_ms: int) -> None:
        self.sup.pump_health(timeout_ms=0)
        self.sup.check(time.time())
        poller = zmq.Poller()
        for sock in self.subs:
            poller.register(sock, zmq.POLLIN)
        for sock, _ in poller.poll(timeout_ms):
            while sock.poll(0):
                try:
                    _, msg = busmod.recv(sock)
                except ProtocolError:
                    continue
                if isinstance(msg, SessionSummary) and msg.session.startswith("soak-"):
                    self.summaries[msg.session] = msg.summary
                elif isinstance(msg, CoachUpdate) and msg.session.startswith("soak-live"):
                    self._heard(time.time())
                elif msg.session.startswith("soak-bad"):
                    kind = ("bad_frame" if isinstance(msg, FrameSkipped) and msg.reason.startswith("bad frame")
                            else "other_skip" if isinstance(msg, FrameSkipped) else "pose")
                    if isinstance(msg, (FrameSkipped, PoseResult)):
                        self.bad_answers[kind] += 1

    def _heard(self, now: float) -> None:
        """The trainee's screen moved: how long it stood still after each kill."""
        self.last_update = now
        for victim, killed_at in self._waiting:
            self.freezes.append((victim, round(now - killed_at, 2)))
        self._waiting.clear()

    def _sample(self, now: float) -> None:
        for m in self.sup.managed:
            if m.proc is None or m.proc.poll() is not None or m.spec.name == "capture" and not m.spec.restart:
                continue
            try:
                mb = psutil.Process(m.proc.pid).memory_info().rss / 2 ** 20
            except psutil.Error:
                continue
            self.rss.setdefault(m.label, []).append((round(now - self.t0, 1), round(mb, 1)))
        for inst in self.sup.monitor.unhealthy(now):
            label = next((m.label for m in self.sup.managed if m.proc and m.proc.pid == inst.pid), inst.instance)
            spell = self.unhealthy.setdefault(label, {"seconds": 0.0, "reasons": []})
            spell["seconds"] += SAMPLE_S
            if inst.reason[:120] not in spell["reasons"]:
                spell["reasons"].append(inst.reason[:120])

    # ------------------------------------------------------------------ faults
    def _inject(self, now: float) -> float | None:
        """One fault at random; returns when to undo it, if it lasts."""
        kinds = [k for k in WEIGHTS if k != "store_readonly" or (self._lock is None and faults.FileLock.possible())]
        kind = self.rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
        detail = ""
        undo = None
        if kind == "kill":
            # Never the kill that makes the supervisor give up (max_restarts in restart_window_s): that cap is an
            # operator's safeguard, tested on its own; the soak measures recovery.
            cap = self.settings.max_restarts - 1
            victims = [m for m in self.sup.managed if m.spec.name in KILLABLE and m.proc and m.proc.poll() is None
                       and len(m.restarts) < cap]
            if victims:
                victim = self.rng.choice(victims)
                detail = victim.label
                faults.kill(victim.proc.pid)
                if now - self.last_update < 1.0:   # a live replay is on the screen: time its freeze
                    self._waiting.append((victim.spec.name, now))
        elif kind == "bad_frames":
            # Senders run beside the loop, which keeps reading what the system answers.
            detail = f"{len(faults.crafted_frames())} frames"
            self._beside(faults.send_bad_frames, f"soak-bad-{len(self.injected)}")
        elif kind == "stranger_heartbeats":
            detail = "3000 heartbeats"
            self._beside(faults.stranger_heartbeats, 3000)
        elif kind == "flood":
            detail = "1000 sessions"
            self._beside(faults.flood_ingest, 1000, f"flood{len(self.injected)}")
        elif kind == "store_readonly":
            self._lock = faults.FileLock(self.settings.db_path)
            self._lock.lock()
            # The running coach keeps its open file; the restarted one must cope with a store it cannot write.
            coach = [m for m in self.sup.managed if m.spec.name == "coach" and m.proc and m.proc.poll() is None
                     and len(m.restarts) < self.settings.max_restarts - 1]
            for m in coach:
                faults.kill(m.proc.pid)
            detail = f"{READONLY_S:.0f} s, coach killed"
            undo = now + READONLY_S
        self.injected.append((round(now - self.t0, 1), kind, detail))
        self.say(f"  {now - self.t0:6.0f} s  fault: {kind} {detail}")
        return undo

    def _beside(self, fault, *args) -> None:
        threading.Thread(target=fault, args=(self.ctx, self.settings, *args), daemon=True).start()

    def _lock_release(self) -> None:
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    # ------------------------------------------------------------------ results
    def _open_sessions(self) -> list[str]:
        """Soak sessions the store still has open after the clean stop (there must be none)."""
        try:
            conn = sqlite3.connect(f"file:{self.settings.db_path}?mode=ro", uri=True)
            try:
                return [r[0] for r in conn.execute("SELECT id FROM sessions WHERE ended_at IS NULL AND id LIKE "
                                                   "'soak-live-%'")]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return [f"cannot read the store: {exc}"]

    def _result(self, reference: dict, restarts: dict, ignored: dict, invented: list, still_open: list) -> dict:
        expected = sum(t["reps"] for t in reference["totals"].values())
        sessions = []
        for session, t in self.started_sessions:
            summary = self.summaries.get(session)
            reps = None if summary is None else sum(x["reps"] for x in summary["totals"].values())
            faults_in = [k for ft, k, _ in self.injected if t <= ft <= t + reference["seconds"] + 2]
            sessions.append({"session": session, "started_s": t, "reps": reps, "expected": expected,
                             "faults": faults_in})
        counted = [s for s in sessions if s["reps"] is not None]
        quiet = [s for s in counted if not s["faults"]]
        memory = {}
        warmup = max(WARMUP_MIN_S, WARMUP_SHARE * (time.time() - self.t0))
        for label, samples in self.rss.items():
            growth = memory_growth(samples, warmup)
            memory[label] = growth or {"last": samples[-1][1] if samples else None}
        freeze: dict[str, dict] = {}
        for victim, seconds in self.freezes:
            entry = freeze.setdefault(victim, {"kills": 0, "max_s": 0.0, "mean_s": 0.0})
            entry["mean_s"] = round((entry["mean_s"] * entry["kills"] + seconds) / (entry["kills"] + 1), 2)
            entry["kills"] += 1
            entry["max_s"] = max(entry["max_s"], seconds)
        by_kind: dict[str, int] = {}
        for _, kind, _ in self.injected:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        return {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
            "clip": str(self.clip), "seconds": round(time.time() - self.t0, 1), "seed": self.seed,
            "reference": {"totals": reference["totals"], "reps": expected},
            "counts": {"sessions": len(sessions), "with_summary": len(counted),
                       "exact": sum(s["reps"] == expected for s in counted),
                       "within_1": sum(abs(s["reps"] - expected) <= 1 for s in counted),
                       "reps_live": sum(s["reps"] for s in counted), "reps_expected": expected * len(counted),
                       "exact_without_faults": f"{sum(s['reps'] == expected for s in quiet)}/{len(quiet)}"},
            "sessions": sessions, "faults": by_kind, "fault_log": self.injected, "restarts": restarts,
            "screen_freeze_after_kill": freeze,
            "unhealthy": self.unhealthy, "bad_frame_answers": self.bad_answers,
            "heartbeats_ignored": ignored, "invented_services_in_report": invented,
            "sessions_left_open_after_stop": still_open,
            "memory_mb": memory, "memory_warmup_s": round(warmup, 1),
            "load_avg_1m_at_start": self.load_at_start, "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        }


def report_lines(result: dict) -> list[str]:
    c = result["counts"]
    lines = [f"soak: {result['seconds'] / 60:.1f} min of {result['clip']} (seed {result['seed']}), "
             f"load {result['load_avg_1m_at_start']} -> {result['load_avg_1m_at_end']}",
             f"  counts vs offline ({result['reference']['reps']} reps a replay): {c['exact']}/{c['with_summary']} "
             f"replays exact, {c['within_1']} within one, {c['reps_live']} of {c['reps_expected']} reps; "
             f"without a fault during the replay {c['exact_without_faults']} exact; "
             f"{c['sessions'] - c['with_summary']} replays without a summary",
             "  faults: " + ", ".join(f"{k} x{n}" for k, n in result["faults"].items()),
             "  restarts: " + (", ".join(f"{k} {n}" for k, n in result["restarts"].items()) or "none"),
             "  the trainee's screen stood still after a kill of: " + (", ".join(
                 f"{k} {v['mean_s']} s on average, {v['max_s']} s at most ({v['kills']} kills)"
                 for k, v in result["screen_freeze_after_kill"].items()) or "no kill during a replay"),
             "  unhealthy: " + (", ".join(f"{k} {v['seconds']:.0f} s ({v['reasons'][0][:60]})"
                                          for k, v in result["unhealthy"].items()) or "never"),
             f"  bad frames answered: {result['bad_frame_answers']}; stranger heartbeats ignored: "
             f"{result['heartbeats_ignored']}, invented services in the report: {len(result['invented_services_in_report'])}",
             f"  sessions left open after the clean stop: {len(result['sessions_left_open_after_stop'])}",
             "  memory MB (after warm-up -> last, peak): " + ", ".join(
                 f"{k} {v.get('after_warmup', '?')}->{v.get('last')} ({v.get('peak', '?')})"
                 for k, v in sorted(result["memory_mb"].items(), key=lambda kv: service_of(kv[0])))]
    return lines


def main(args) -> int:
    clip = Path(args.clip).resolve() if args.clip else default_clip()
    if clip is None or not clip.is_file():
        print(f"fitness-trainer soak: no clip {'at ' + str(clip) if clip else 'given, and no real clips found'}; "
              f"pass --clip FILE", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(10 ** 6)
    log_dir = str(PROJECT_ROOT / "var" / "logs" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}")

    def say(text: str) -> None:
        print(f"soak: {text}", file=sys.stderr, flush=True)

    run = SoakRun(clip, args.minutes * 60.0, args.fault_every, seed, args.pose_workers, log_dir, say)
    result = run.run()
    result["log_dir"] = log_dir
    for line in report_lines(result):
        print(line, flush=True)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0

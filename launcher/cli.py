"""`fitness-trainer`: the one command-line entry point (up, analyze, eval, train, bench, monitor, keys)."""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from common.config import PROJECT_ROOT, Settings, add_arguments, settings_from_args, with_absolute_paths
from common.exercises import EXERCISES
from common.service import setup_logging
from launcher.signals import Stopped, on_stop_signals, stop_on_signals


DEFAULT_DATA = Path(Settings.from_env().data_dir)
ERROR_LOG = PROJECT_ROOT / "var" / "logs" / "cli-errors.log"


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (and --help for the rest), like every other error of the command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def cmd_up(args) -> int:
    from common.history import StoreError, check_store
    from launcher.supervisor import Supervisor, pipeline_specs
    settings = with_absolute_paths(settings_from_args(args))
    if settings.ui_host not in ("127.0.0.1", "localhost", "::1") and not settings.ui_token:
        print("fitness-trainer: --ui-host beyond loopback needs --ui-token (nobody may watch a camera "
              "anonymously)", file=sys.stderr)
        return 2
    try:
        check_store(settings.db_path)   # before anything starts: a coach that cannot keep the history must not
    except StoreError as exc:
        print(f"fitness-trainer: not starting: {exc}", file=sys.stderr)
        return 2
    log_dir = settings.log_dir
    supervisor = Supervisor(settings, pipeline_specs(settings, settings.pose_workers), log_dir=log_dir)
    on_stop_signals(supervisor.stop_event.set)
    supervisor.start_all()
    url = f"http://{settings.ui_host}:{settings.ui_port}/"
    if settings.ui_token:
        url += f"?token={settings.ui_token}"
    print(f"fitness-trainer: {len(supervisor.managed)} processes started (logs in {log_dir}); "
          f"open {url}  — Ctrl-C stops everything", file=sys.stderr, flush=True)
    try:
        supervisor.run()
    finally:
        print("fitness-trainer: stopping all services", file=sys.stderr, flush=True)
        supervisor.stop_all()
    return 0


def cmd_monitor(args) -> int:
    """Health channel only (for containers, where Docker restarts processes)."""
    from launcher.supervisor import Supervisor
    settings = settings_from_args(args)
    supervisor = Supervisor(settings, [])
    if supervisor.monitor.open and not settings.curve_dir:
        print("fitness-trainer monitor: heartbeats are not authenticated; give every container the same "
              "FT_HEALTH_KEY (or FT_CURVE_DIR) so strangers cannot reach the health report", file=sys.stderr)
    on_stop_signals(supervisor.stop_event.set)
    try:
        supervisor.run()
    finally:
        supervisor.stop_all()
    return 0


def cmd_analyze(args) -> int:
    from launcher import analyze
    return analyze.main(args)


def cmd_eval(args) -> int:
    from offline import evaluate
    if args.labels is None:
        args.labels = str(Path(args.dir) / "labels.csv")
    if args.held_out:
        from offline.dataset import SPLIT_FILE, read_split
        models_dir = Settings.from_env().models_dir
        split = read_split(models_dir)
        if split is None:
            print(f"no {Path(models_dir) / SPLIT_FILE}: the models do not say which clips were held out",
                  file=sys.stderr)
            return 2
        args.only = sorted(set(args.only or []) | set(split["held_out"]))
    return evaluate.main(args)


def cmd_train(args) -> int:
    from offline import train
    return train.main(args.rest)


def cmd_bench(args) -> int:
    from offline import bench
    return bench.main(args)


def cmd_keys(args) -> int:
    from common.bus import make_curve_keys
    make_curve_keys(args.folder)
    print(f"CURVE keys written to {args.folder}; set FT_CURVE_DIR={args.folder} on every machine "
          f"(copy the folder; public/ lists the client keys servers accept)")
    return 0


def cmd_soak(args) -> int:
    from offline import soak
    return soak.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="fitness-trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="Start every service and the web UI; Ctrl-C stops them all",
                        description="Start capture, broker, pose workers, classifier, coach, speech and UI as "
                                    "supervised processes.")
    up.add_argument("--source", default=None,
                    help="'webcam' (the trainee's camera through the browser, default), a video FILE, or a "
                         "local camera index N")
    up.add_argument("--pose-workers", dest="pose_workers", type=int, default=None,
                    help="Pose worker processes (default 2)")
    up.add_argument("--port", dest="ui_port", type=int, default=None, help="Web UI port (default 8000)")
    add_arguments(up, "classifiers", "coaches", "ui_host", "ui_token", "loop", "realtime", "db_path", "curve_dir",
                  "health_key", "log_level", "log_dir")
    up.set_defaults(func=cmd_up)

    an = sub.add_parser("analyze", help="Run clips through the services; print what was counted",
                        description="Analyse video clips with the same services and logic as live mode.")
    an.add_argument("clips", nargs="+", help="Video files")
    an.add_argument("--json", action="store_true", help="One JSON object per clip on stdout")
    an.add_argument("--pose-workers", type=int, default=2, help="Pose worker processes (default 2)")
    an.add_argument("--no-progress", action="store_true", help="No progress bar on stderr")
    an.add_argument("--exercise", choices=EXERCISES, default=None,
                    help="The exercise the clips show (default: recognise it from the movement)")
    an.add_argument("--fps", type=float, default=None,
                    help="Analyse at most this many frames a second, as a slower camera would deliver them")
    an.add_argument("--annotate", metavar="OUT.mp4", default=None,
                    help="Also write the clip with the skeleton, exercise, phase, running count and the rep signal "
                         "with its bands drawn on it (one clip)")
    an.set_defaults(func=cmd_analyze)

    ev = sub.add_parser("eval", help="Score analyze on labelled clips (exercise, reps, hold time)",
                        description="Run analyze over a folder of labelled clips and print accuracy figures.")
    ev.add_argument("dir", nargs="?", default=str(DEFAULT_DATA / "clips"), help="Folder of clips (default: "
                    "../shared/data/clips)")
    ev.add_argument("--labels", default=None, help="Labels CSV: file,exercise,reps,hold_seconds (default: "
                                                   "DIR/labels.csv)")
    ev.add_argument("--only", nargs="*", default=None, help="Score only these files (as in the CSV)")
    ev.add_argument("--held-out", action="store_true", help="Score only the clips the models were not trained on "
                                                            "(models/split.json)")
    ev.add_argument("--json", action="store_true", help="Last line: one JSON object with clips and overall")
    ev.add_argument("--pose-workers", type=int, default=2, help="Pose worker processes (default 2)")
    ev.add_argument("--no-progress", action="store_true", help="No progress bar on stderr")
    ev.add_argument("--exercise-given", action="store_true",
                    help="Analyse each clip as its labelled exercise (as a trainee who picked it); the JSON says "
                         "which mode")
    ev.add_argument("--fps", type=float, default=None,
                    help="Replay at most this many frames a second (a trainee on a busy machine)")
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser("train", help="Rebuild every model in models/ from data, with a report",
                        description="Rebuild the models; pass --help after `train` for its options.",
                        add_help=False)
    tr.add_argument("rest", nargs=argparse.REMAINDER, help="Options of the training pipeline (try: train --help)")
    tr.set_defaults(func=cmd_train)

    be = sub.add_parser("bench", help="Measure stage costs, throughput vs workers, the ceiling of one broker / "
                                      "classifier / coach, a class of live trainees, live latency, memory",
                        description="Benchmarks; figures printed (and JSON with --json).")
    be.add_argument("--json", action="store_true", help="Last line: one JSON object with every figure")
    be.add_argument("--sections", default=None, help="Only these sections, comma-separated: stages, offline, "
                                                     "ceiling, class, live (default: all)")
    be.add_argument("--long", action="store_true", help="Memory run of 10 minutes instead of 2")
    be.add_argument("--clip", default=None, help="Clip to replay (default: one of ../shared/data/clips)")
    be.add_argument("--max-workers", type=int, default=None, help="Largest pose worker count to try "
                                                                  "(default: cores)")
    be.add_argument("--browser", action="store_true", help="Instead: real Chromium tabs with the clip as their camera "
                                                         "through `up` (1, 2, 4 tabs): frames/s sent and answered, "
                                                         "camera -> skeleton latency")
    be.add_argument("--trainees", default=None, help="Class sizes for the class section, e.g. 8,10,12 (default: "
                                                     "1,2,4,8; beyond 8 the 2 pose workers' trackers are too few)")
    be.add_argument("--tabs", default=None, help="With --browser: tab counts to run, e.g. 1,2,4 (the default)")
    be.add_argument("--seconds", type=float, default=20.0, help="With --browser: seconds measured per run")
    be.set_defaults(func=cmd_bench)

    so = sub.add_parser("soak", help="Live replay of a real clip for a long while, with faults injected at random",
                        description="Replay a real clip live through every service while killing services, sending "
                                    "bad frames, strangers' heartbeats and floods, and making the store read-only "
                                    "for a while; prints counts vs offline, restarts and memory per service.")
    so.add_argument("--minutes", type=float, default=30.0, help="How long to run (default 30)")
    so.add_argument("--clip", default=None, help="Clip to replay (default: one of ../shared/data/clips)")
    so.add_argument("--fault-every", type=float, default=20.0, help="Mean seconds between faults (default 20)")
    so.add_argument("--seed", type=int, default=None, help="Seed of the fault schedule (default: random)")
    so.add_argument("--pose-workers", type=int, default=2, help="Pose worker processes (default 2)")
    so.add_argument("--json", action="store_true", help="Last line: one JSON object with every figure")
    so.set_defaults(func=cmd_soak)

    mo = sub.add_parser("monitor", help="Run only the health channel (containers)",
                        description="Collect heartbeats and publish the health report (no process management).")
    add_arguments(mo, "health_in", "health_out", "bind_host", "curve_dir", "health_key", "log_level")
    mo.set_defaults(func=cmd_monitor)

    ke = sub.add_parser("keys", help="Create CURVE keys for encrypted ZeroMQ links between machines",
                        description="Create a server and a client CURVE key pair in FOLDER.")
    ke.add_argument("folder", help="Where to write the keys")
    ke.set_defaults(func=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Every failure is one line on stderr and a non-zero exit; a stop signal stops every child first."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        with stop_on_signals():
            if argv[:1] == ["train"]:
                # The training pipeline owns its options (argparse's REMAINDER would swallow none before --help).
                from offline import train
                return train.main(argv[1:]) or 0
            args = build_parser().parse_args(argv)
            setup_logging(getattr(args, "log_level", None) or "WARNING")
            return args.func(args) or 0
    except Stopped as exc:
        print(f"fitness-trainer: {exc}; every process it started is stopped", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:
        if isinstance(exc.code, str):   # raise SystemExit("message") deep inside: still one line
            print(exc.code if exc.code.startswith("fitness-trainer") else f"fitness-trainer: {exc.code}",
                  file=sys.stderr)
            return 2
        raise
    except Exception as exc:
        return _one_line_error(exc)


def _one_line_error(exc: Exception) -> int:
    from common.history import StoreError
    from offline.labels import LabelsError
    if isinstance(exc, (LabelsError, StoreError)):
        print(f"fitness-trainer: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, (RuntimeError, OSError)):
        print(f"fitness-trainer: {exc}", file=sys.stderr)
        return 1
    # A bug: one line here, the traceback in a file for whoever reports it.
    where = ""
    try:
        ERROR_LOG.parent.mkdir(parents=True, exist_ok=True)
        with open(ERROR_LOG, "a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv)}\n{traceback.format_exc()}")
        where = f" (traceback in {ERROR_LOG})"
    except OSError:
        pass
    print(f"fitness-trainer: unexpected error: {exc.__class__.__name__}: {exc}{where}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

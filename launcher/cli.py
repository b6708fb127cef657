"""`fitness-trainer`: the one command-line entry point (up, analyze, eval, train, bench, monitor, keys)."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from common.config import Settings, add_arguments, settings_from_args
from common.exercises import EXERCISES
from common.service import setup_logging


DEFAULT_DATA = Path(Settings.from_env().data_dir)


def cmd_up(args) -> int:
    from launcher.supervisor import Supervisor, pipeline_specs
    settings = settings_from_args(args)
    if settings.ui_host not in ("127.0.0.1", "localhost", "::1") and not settings.ui_token:
        print("fitness-trainer: --ui-host beyond loopback needs --ui-token (nobody may watch a camera "
              "anonymously)", file=sys.stderr)
        return 2
    log_dir = settings.log_dir
    supervisor = Supervisor(settings, pipeline_specs(settings, settings.pose_workers), log_dir=log_dir)

    def stop(signum, _frame):
        supervisor.stop_event.set()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
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
    supervisor = Supervisor(settings_from_args(args), [])

    def stop(signum, _frame):
        supervisor.stop_event.set()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fitness-trainer", description=__doc__)
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
                  "log_level", "log_dir")
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
    be.add_argument("--tabs", default=None, help="With --browser: tab counts to run, e.g. 1,2,4 (the default)")
    be.add_argument("--seconds", type=float, default=20.0, help="With --browser: seconds measured per run")
    be.set_defaults(func=cmd_bench)

    mo = sub.add_parser("monitor", help="Run only the health channel (containers)",
                        description="Collect heartbeats and publish the health report (no process management).")
    add_arguments(mo, "health_in", "health_out", "bind_host", "curve_dir", "log_level")
    mo.set_defaults(func=cmd_monitor)

    ke = sub.add_parser("keys", help="Create CURVE keys for encrypted ZeroMQ links between machines",
                        description="Create a server and a client CURVE key pair in FOLDER.")
    ke.add_argument("folder", help="Where to write the keys")
    ke.set_defaults(func=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        # The training pipeline owns its options (argparse's REMAINDER would swallow none before --help).
        from offline import train
        return train.main(argv[1:]) or 0
    args = build_parser().parse_args(argv)
    setup_logging(getattr(args, "log_level", None) or "WARNING")
    return args.func(args) or 0


if __name__ == "__main__":
    raise SystemExit(main())

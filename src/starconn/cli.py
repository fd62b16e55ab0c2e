"""``python -m starconn``: list chapters, show or run one, build the whole book, or sweep a grid.

    python -m starconn list
    python -m starconn show CHAPTER [--profile P] [-p NAME VALUE]...
    python -m starconn run CHAPTER [--profile P] [-p NAME VALUE]... [--out DIR]
    python -m starconn book [--profile P] [--no-execute]
    python -m starconn sweep CHAPTER [--profile P] [-p NAME VALUE]... [--out DIR] [--scheduler ADDRESS]
    python -m starconn gpu-plan [-p NAME VALUE]... [--next | --command N | --args JOB | --run JOB...]

``show`` prints every parameter the run would use, its value and its origin (the paper, our
choice, a deviation from the paper, the profile, or your override) with the reason. Every
parameter is validated before any work starts; a bad one is a one-line error naming the parameter
and the allowed values, with exit code 2. ``gpu-plan`` cuts the paper-scale Part III into device
calls that each fit 9 minutes on a GPU (``starconn.gpuplan``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import build, config, gpuplan, runner, sweep
from .errors import ChapterFailed, ParamError
from .params import PROFILE
from .profiles import CHAPTERS, chapter


def _chapter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("chapter")
    p.add_argument("--profile", help=PROFILE.allowed())
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="starconn", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="chapter ids and titles")
    _chapter_arguments(sub.add_parser("show", help="every parameter of a run: value, origin and reason"))
    r = sub.add_parser("run", help="execute one chapter through papermill")
    _chapter_arguments(r)
    r.add_argument("--out", type=Path, default=None, help="output directory (default: STARCONN_OUT)")
    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--profile", help=PROFILE.allowed())
    b.add_argument("--no-execute", action="store_true", help="render stored executions; fail if one is stale")
    sweep.add_arguments(sub.add_parser("sweep", help="a grid of chapter runs (-p NAME VALUE repeated) on Dask"))
    gpuplan.add_arguments(sub.add_parser("gpu-plan", help="the paper-scale Part III as device calls of ≤ 9 minutes"))
    args = ap.parse_args(argv)
    for var in ("STARCONN_DATA", "STARCONN_CACHE", "STARCONN_OUT"):  # chapters run with cwd book/
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).expanduser().resolve())
    try:
        if args.cmd == "list":
            for ch in CHAPTERS.values():
                print(f"{ch.id:24s} {ch.part:26s} {ch.title}")
            return 0
        if args.cmd == "show":
            profile, given = runner.validate(args.chapter, args.profile, args.param)
            print(chapter(args.chapter).describe(profile, **given), end="")
            return 0
        if args.cmd == "run":
            profile, given = runner.validate(args.chapter, args.profile, args.param)
            target = runner.execute(args.chapter, profile, given, args.out or config.out_dir())
            print(f"wrote {target} and {target.with_suffix('.json')}")
            return 0
        if args.cmd == "sweep":
            return sweep.main(args)
        if args.cmd == "gpu-plan":
            return gpuplan.main(args)
        profile = PROFILE.check(args.profile) if args.profile else config.default_profile()
        return build.build(profile, execute=not args.no_execute)
    except ParamError as err:
        print(f"starconn: error: {err}", file=sys.stderr)
        return 2
    except ChapterFailed as err:
        print(f"starconn: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

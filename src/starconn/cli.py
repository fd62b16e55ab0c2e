"""``python -m starconn``: list chapters, run one through papermill, or build the whole book.

    python -m starconn list
    python -m starconn run CHAPTER [--profile P] [-p NAME VALUE]... [--out DIR]
    python -m starconn book [--profile P]
    python -m starconn sweep CHAPTER [--profile P] [-p NAME VALUE]... [--out DIR] [--scheduler ADDRESS]

Every parameter is validated before any work starts; a bad one is a one-line error naming the
parameter and the allowed values, with exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import build, config
from .params import PROFILE, ParamError
from .profiles import CHAPTERS, chapter

BOOK = config.REPO_ROOT / "book"


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised (e.g. its claim cell failed)."""


def _parse_run(args: argparse.Namespace) -> tuple[str, dict]:
    ch = chapter(args.chapter)
    profile = PROFILE.check(args.profile) if args.profile else config.default_profile()
    given = {}
    for name, raw in args.param or []:
        given[name] = ch.param(name).parse(raw)
    ch.resolve(profile, **given)  # validates the full configuration before any work
    return profile, given


def run(chapter_id: str, profile: str, params: dict, out: Path) -> Path:
    """Execute ``book/<chapter>.ipynb`` into ``out/<chapter>.ipynb``; the notebook writes its JSON."""
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{chapter_id}.ipynb"
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{chapter_id}.", suffix=".ipynb")
    os.close(fd)
    env_backend = os.environ.pop("MPLBACKEND", None)  # papermill + Agg drops figures
    try:
        papermill.execute_notebook(
            str(BOOK / f"{chapter_id}.ipynb"), tmp, cwd=str(BOOK), kernel_name="python3",
            parameters={"profile": profile, "out": str(out.resolve()), **params},
        )
        os.replace(tmp, target)
    except papermill.PapermillExecutionError as err:
        failed = out / f"{chapter_id}.failed.ipynb"
        os.replace(tmp, failed)
        raise ChapterFailed(f"chapter {chapter_id!r} failed in cell {err.exec_count}: {err.ename}: "
                            f"{err.evalue} (executed notebook: {failed})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if env_backend is not None:
            os.environ["MPLBACKEND"] = env_backend
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="starconn", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="chapter ids and titles")
    r = sub.add_parser("run", help="execute one chapter through papermill")
    r.add_argument("chapter")
    r.add_argument("--profile", help=PROFILE.allowed())
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"))
    r.add_argument("--out", type=Path, default=None, help="output directory (default: STARCONN_OUT)")
    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--profile", help=PROFILE.allowed())
    b.add_argument("--no-execute", action="store_true", help="render stored executions; fail if one is stale")
    from . import sweep

    sweep.add_arguments(sub.add_parser("sweep", help="a grid of chapter runs (-p NAME VALUE repeated) on Dask"))
    args = ap.parse_args(argv)
    for var in ("STARCONN_DATA", "STARCONN_CACHE", "STARCONN_OUT"):  # chapters run with cwd book/
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).expanduser().resolve())
    try:
        if args.cmd == "list":
            for ch in CHAPTERS.values():
                print(f"{ch.id:24s} {ch.part:26s} {ch.title}")
            return 0
        if args.cmd == "run":
            profile, given = _parse_run(args)
            target = run(args.chapter, profile, given, args.out or config.out_dir())
            print(f"wrote {target} and {target.with_suffix('.json')}")
            return 0
        if args.cmd == "sweep":
            return sweep.main(args)
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

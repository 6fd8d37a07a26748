"""``plots show/diff/templates``: dvc's plots, printed as dvc's ``--json``
or written as an HTML page (dvc-render's, drawing offline: see
:mod:`bale.plots.page`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bale.cli.common import Commands, open_repo, rel_cwd
from bale.exceptions import TargetError

#: The command-line plot properties (dvc's PLOT_PROPS), by argparse dest.
_PROPS = ("template", "x", "y", "title", "x_label", "y_label")


def _props(args: argparse.Namespace) -> dict[str, Any]:
    """Only the properties given, so they do not hide the definitions'."""
    props = {p: getattr(args, p) for p in _PROPS if getattr(args, p, None) is not None}
    if getattr(args, "no_header", False):
        props["header"] = False
    return props


def cmd_plots(args: argparse.Namespace) -> int:
    if args.plots_command in ("show", "diff"):
        return _show(args)
    if args.plots_command == "templates":
        from bale.ops import plots

        found = plots.templates(args.template)
        if isinstance(found, list):
            print("\n".join(found))
        else:
            print(json.dumps(found))
        return 0
    if args.plots_command == "modify":
        from bale.ops import plots

        repo = open_repo()
        stage, path = plots.modify(repo, args.target, _props(args), args.unset or ())
        where = rel_cwd(repo.root, path.relative_to(repo.root).as_posix())
        print(f"Modifying stage '{stage}' in '{where}'")
        return 0
    print("usage: bale plots {show,diff,modify,templates} ...")
    return 2


def _show(args: argparse.Namespace) -> int:
    from bale.ops import plots
    from bale.pipeline.compare import json_default
    from bale.plots.points import dump
    from bale.plots.render import show_json

    if args.show_vega and (len(args.targets or ()) != 1 or args.json):
        # checked before any work, as dvc checks it
        raise TargetError("--show-vega needs exactly one target, and not --json")
    repo = open_repo()
    if args.plots_command == "diff":
        revs = plots.diff_revisions(repo, args.revisions, args.experiment)
        found, errors = plots.show(repo, args.targets, revs, _props(args))
    else:
        found, errors = plots.show(repo, args.targets, None, _props(args))
    failed = [r.name for r in found if r.errors] + list(errors)
    if failed:
        names = ", ".join(failed)
        print(
            f"bale failed to load some plots for following revisions: '{names}'.", file=sys.stderr
        )
    if errors and not found and not args.json:
        # No page can be drawn: the reason is the error (dvc only says so in --json).
        raise next(iter(errors.values()))
    loaded = any(r.definitions for r in found)
    if not loaded and not args.json:
        print("No plots were loaded, visualization file will not be created.", file=sys.stderr)
    out = args.out or repo.config.get("plots.out_dir") or "dvc_plots"
    if args.json:
        rendered = plots.render(repo, found, out)
        _print(dump(show_json(rendered, errors, split=args.split), default=json_default))
        return 0
    rendered = plots.render(repo, found, str(Path(out) / "static"))
    if args.show_vega:
        vega = next((r.renderer for r in rendered if r.renderer.TYPE == "vega"), None)
        if vega is not None:
            _print(dump(vega.get_filled_template()))
        return 0
    if rendered:
        from bale.plots import page as html

        page = (Path.cwd() / out).resolve() / "index.html"
        template = args.html_template or repo.config.get("plots.html_template")
        if template and not args.html_template and not Path(template).is_absolute():
            template = str(repo.dvc_dir / template)  # the config's is relative to .dvc
        html.write([r.renderer for r in rendered], page, template)
        print(page.as_uri())
        if args.open or repo.config.get("plots.auto_open") == "true":
            import webbrowser

            webbrowser.open(page.as_uri())
    return 0


def _print(parts: Iterable[bytes]) -> None:
    """A line of JSON written in parts (a plot's datapoints can be
    hundreds of megabytes: never one string)."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    for part in parts:
        out.write(part)
    out.write(b"\n")
    out.flush()


def _add_props(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--template", help="the Vega-Lite template (a name, or a file)")
    p.add_argument("-x", help="the field of the X axis")
    p.add_argument("-y", help="the field of the Y axis")
    p.add_argument("--title", help="the plot's title")
    p.add_argument("--x-label", help="the X axis' label")
    p.add_argument("--y-label", help="the Y axis' label")


def register(commands: Commands) -> None:
    p = commands.add("plots", cmd_plots, "Show, compare and configure plots.")
    sub = p.add_subparsers(dest="plots_command", metavar="COMMAND")
    show = sub.add_parser("show", help="Show the workspace's plots.")
    show.add_argument(
        "targets", nargs="*", help="plot ids or data files (default: every plot defined)"
    )
    diff = sub.add_parser("diff", help="Compare plots between revisions and the workspace.")
    diff.add_argument(
        "--targets", nargs="*", metavar="<paths>", help="plot ids or data files to compare"
    )
    diff.add_argument(
        "-e",
        "--experiment",
        action="store_true",
        help="with one revision, an experiment: compare it with its baseline",
    )
    diff.add_argument("revisions", nargs="*", help="git revisions (default: the workspace)")
    for q in (show, diff):
        _add_props(q)
        q.add_argument(
            "--no-header", action="store_true", help="the CSV/TSV data files have no header"
        )
        q.add_argument("-o", "--out", help="where to write the page (default: dvc_plots)")
        q.add_argument("--json", action="store_true", help="print dvc's JSON: specs with data")
        q.add_argument(
            "--split", action="store_true", help="with --json, each spec's data beside it"
        )
        q.add_argument(
            "--show-vega", action="store_true", help="print the one target's filled Vega-Lite spec"
        )
        q.add_argument("--open", action="store_true", help="open the page in a browser")
        q.add_argument("--html-template", help="the HTML page to fill (default: dvc-render's)")
    modify = sub.add_parser(
        "modify", help="Set or unset the display properties of a stage's plots output."
    )
    modify.add_argument("target", help="a stage output (it becomes a plots output)")
    _add_props(modify)
    modify.add_argument(
        "--no-header", action="store_true", help="the CSV/TSV data file has no header"
    )
    modify.add_argument(
        "--unset", nargs="*", metavar="<property>", help="remove these display properties"
    )
    tpl = sub.add_parser("templates", help="List the built-in templates, or print one.")
    tpl.add_argument("template", nargs="?", help="a template's name")

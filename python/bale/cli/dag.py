"""``dag``: draws the pipeline graph that :func:`bale.ops.dag.dag` builds."""

from __future__ import annotations

import argparse

from bale.cli.common import Commands, open_repo


def cmd_dag(args: argparse.Namespace) -> int:
    from bale.ops import dag
    from bale.pipeline import dagview

    # before the repository is opened: an error line and a failure, not argparse's usage
    dag.check(outs=args.outs, collapse_foreach_matrix=args.collapse_foreach_matrix)
    graph = dag.dag(
        open_repo(),
        args.target,
        outs=args.outs,
        full=args.full,
        collapse_foreach_matrix=args.collapse_foreach_matrix,
    )
    if args.dot:
        print(dagview.to_dot(graph))  # dvc's dot ends with a blank line
    elif args.mermaid or args.md:
        print(dagview.to_mermaid(graph, markdown=args.md))
    else:
        from bale.cli.pager import page  # subprocess: only to page

        page(dagview.to_ascii(graph) + "\n")
    return 0


def register(commands: Commands) -> None:
    p = commands.add("dag", cmd_dag, "Show the pipeline graph.")
    p.add_argument("target", nargs="?", help="a stage or output (default: everything)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--dot", action="store_true", help="as Graphviz dot")
    fmt.add_argument("--mermaid", action="store_true", help="as a mermaid flowchart")
    fmt.add_argument("--md", action="store_true", help="as mermaid inside a markdown fence")
    p.add_argument(
        "--full",
        action="store_true",
        help="the whole pipeline the target belongs to, not only what it depends on",
    )
    p.add_argument("-o", "--outs", action="store_true", help="draw outputs instead of stages")
    p.add_argument(
        "--collapse-foreach-matrix",
        action="store_true",
        help="draw the stages of each foreach/matrix group as one node",
    )

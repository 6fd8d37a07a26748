"""A ``live:`` section dvclive once wrote in ``dvc.yaml``, which dvc 3.67.1's
schema refuses: ``metrics``, ``params`` and ``exp`` warn and show the
workspace without its files, ``status`` and ``repro`` fail; bale does the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.test_dvc_differential import Sh, Step, assert_same_outcomes, differential

pytestmark = pytest.mark.interop


LIVE_SETUP = (
    "echo 'lr: 0.1' > params.yaml && echo '{\"acc\": 0.5}' > m.json"
    " && printf 'stages:\\n  train:\\n    cmd: cp m.json metrics.json\\n    deps: [m.json]\\n"
    "    params: [lr]\\n    metrics:\\n    - metrics.json:\\n        cache: false\\n' > dvc.yaml"
    " && cp m.json metrics.json && git add -A && git commit -qm c1"
    " && printf 'live:\\n  dvclive:\\n    summary: true\\n' >> dvc.yaml"
    " && echo 'lr: 0.2' > params.yaml"
)


def test_a_live_section_warns_in_metrics_params_and_exp_and_fails_status_like_dvc(
    sh: Sh, dvc_template: Path, tmp_path: Path
) -> None:
    steps: list[Step] = [
        ("metrics", "show"),
        ("metrics", "show", "--json"),
        ("metrics", "diff", "--json"),
        ("params", "diff", "--json"),
        ("exp", "show"),
        ("exp", "diff", "--json"),
        ("status",),
        ("repro", "--dry"),
    ]
    dvc, bale, _d, _b = differential(sh, dvc_template, tmp_path, steps, LIVE_SETUP)
    assert_same_outcomes(steps, dvc, bale)
    assert [r.ok for r in dvc] == [True] * 6 + [False, False]
    for i in (2, 3, 5):
        assert bale[i].json() == dvc[i].json(), steps[i]
    assert dvc[3].json() == {"params.yaml": {"lr": {"old": 0.1, "new": None}}}
    assert bale[1].json()[""]["error"]["msg"].startswith("dvc.yaml:")
    for r in bale[:6]:
        assert r.err.startswith("WARNING: failed to load revision 'workspace': dvc.yaml:")
        assert "unknown key 'live'" in r.err
    # dvc refuses the key where it runs stages: so does bale, in one line
    for r in bale[6:]:
        assert r.err.count("\n") == 1 and "dvc.yaml" in r.err and "'live'" in r.err

"""SIGKILL at seeded random moments, then --resume: the fixed-seed profile of the sweep.

A few kills of `liminal-nb run` (its whole process group) at moments drawn from a fixed
seed across the length of an uninterrupted run; each is resumed until it completes and
must end with the same artifacts and metrics as the uninterrupted run, an intact SQLite
store and no artifact failing its hash (tests/reliability/kill_sweep.py). The long
profile is stress/kill_resume.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.kill_sweep import kill_moments, reference, run_trial

SEED = 20
KILLS = 3


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_runs_killed_at_seeded_moments_resume_to_the_uninterrupted_outputs(tmp_path):
    expected, window = reference(tmp_path / "reference")
    assert set(expected.hashes) == {"load", "square", "stats", "total", "report"}
    assert expected.metrics["report"] == {"score": 26600.0}
    trials = [run_trial(tmp_path / f"trial-{i}", kill_at, expected)
              for i, kill_at in enumerate(kill_moments(SEED, KILLS, window))]
    report = [f"kill at {t.kill_at} s ({t.phase}): {t.problems}" for t in trials]
    assert all(not t.problems for t in trials), "\n".join(report)
    # the seeded moments interrupt real work: not all before the run or after its end
    assert any(t.run_id is not None and not t.ended_first and t.resumes for t in trials), report

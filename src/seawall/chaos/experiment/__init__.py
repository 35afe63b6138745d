"""Chaos experiments: format, planning, running with measured recovery, journals and past runs."""

from __future__ import annotations

from seawall.chaos.experiment.chaostoolkit import import_chaostoolkit, is_chaostoolkit
from seawall.chaos.experiment.history import get_run, list_runs, mttr_across_runs, save_run
from seawall.chaos.experiment.journal import build_journal
from seawall.chaos.experiment.load import load_experiment, parse_experiment
from seawall.chaos.experiment.model import Activity, Experiment, Guard, Step
from seawall.chaos.experiment.plan import Plan, plan_experiment
from seawall.chaos.experiment.report import junit, markdown
from seawall.chaos.experiment.runner import Runner, RunRecord, run_experiment
from seawall.chaos.experiment.stats import Recovery, measure, percentile, summarize
from seawall.chaos.experiment.tolerance import within_tolerance
from seawall.chaos.experiment.verdict import EXIT_CODES, RunStatus, verdict

__all__ = [
    "EXIT_CODES",
    "Activity",
    "Experiment",
    "Guard",
    "Plan",
    "Recovery",
    "RunRecord",
    "RunStatus",
    "Runner",
    "Step",
    "build_journal",
    "get_run",
    "import_chaostoolkit",
    "is_chaostoolkit",
    "junit",
    "list_runs",
    "load_experiment",
    "markdown",
    "measure",
    "mttr_across_runs",
    "parse_experiment",
    "percentile",
    "plan_experiment",
    "run_experiment",
    "save_run",
    "summarize",
    "verdict",
    "within_tolerance",
]

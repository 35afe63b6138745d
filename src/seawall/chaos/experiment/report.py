"""Rendering a journal for people and CI: a Markdown summary and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def _ms(value: object) -> str:
    return "–" if not isinstance(value, int | float) else f"{value * 1000:.0f} ms"


def _share(value: object) -> str:
    return "–" if not isinstance(value, int | float) else f"{value * 100:.2f}%"


def _statistics(stats: dict[str, Any]) -> list[str]:
    """The generated traffic: one row per phase; before/after are judged, during is the impact."""
    latency = stats["objectives"].get("latency") or {}
    q = latency.get("percentile")
    label = f"p{q:g}" if isinstance(q, int | float) else "p95"
    lines = ["", "## Statistical steady state", ""]
    objectives = []
    if stats["objectives"].get("error_rate"):
        er = stats["objectives"]["error_rate"]
        objectives.append(f"error rate ≤ {_share(er['max'])} over {er['over']} requests")
    if latency:
        objectives.append(f"{label} ≤ {latency['max']} over {latency['window']}")
    traffic = stats.get("traffic") or {}
    lines.append(
        f"Objectives: {', '.join(objectives) or 'none'}; traffic {traffic.get('method', '')}"
        f" {traffic.get('url', '')} at {traffic.get('rate', 0):g}/s,"
        f" concurrency {traffic.get('concurrency')}."
    )
    lines += [
        "",
        f"| phase | requests | errors | error rate | p50 | {label} (window) | max | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("before", "during", "after"):
        phase = stats["phases"].get(name)
        if phase is None:
            continue
        judged = phase["judged"]
        lat = phase["latency"]
        window = judged["window_latency"] if judged["percentile"] is not None else lat["p95"]
        verdict = "impact" if name == "during" else ("met" if phase["ok"] else "**breached**")
        lines.append(
            f"| {name} | {phase['requests']} | {phase['errors']} | {_share(phase['error_rate'])}"
            f" | {_ms(lat['p50'])} | {_ms(window)} | {_ms(lat['max'])} | {verdict} |"
        )
    impact = stats.get("impact") or {}
    if impact.get("window") is not None:
        lines += [
            "",
            f"Worst {impact['window']:g}s window while the method ran: error rate"
            f" {_share(impact.get('error_rate'))}, {label} {_ms(impact.get('latency'))}.",
        ]
    for name in ("before", "after"):
        phase = stats["phases"].get(name)
        for breach in (phase or {}).get("breaches", []):
            lines.append(f"- {name}: {breach}")
    return lines


def markdown(journal: dict[str, Any]) -> str:
    """A write-up of one run: verdict, faults with measured recovery, steady state, restore."""
    sw = journal["seawall"]
    exp = journal["experiment"]
    lines = [
        f"# Chaos run: {exp.get('title', '')}",
        "",
        f"- **Status:** `{sw['status']}` (exit {sw['exit_code']})",
        f"- **Run:** `{sw['run_id']}`, seed `{sw['seed']}`, {journal['start']} – {journal['end']}"
        f" ({journal['duration']:.1f}s)",
        f"- **Blast radius:** {', '.join(sw['blast_radius']) or 'none'}",
    ]
    if sw.get("recover_within") is not None:
        lines.append(f"- **Expected recovery within:** {sw['recover_within']}s after removal")
    lines += ["", "## Faults and measured recovery", ""]
    if sw["faults"]:
        lines += [
            "| fault | target | probe | time to impact | removal → recovery | MTTR | recovered |",
            "|---|---|---|---|---|---|---|",
        ]
        for fault in sw["faults"]:
            probes = fault["probes"] or {"–": {}}
            for label, m in probes.items():
                lines.append(
                    f"| {fault['kind']} | {fault['target']} | {label} | {_ms(m.get('time_to_impact'))}"
                    f" | {_ms(m.get('recovery_after_removal'))} | {_ms(m.get('mttr'))}"
                    f" | {'yes' if m.get('recovered', True) else '**no**'} |"
                )
    else:
        lines.append("No faults were injected.")
    mttr = sw["mttr"]
    if mttr["count"]:
        lines += [
            "",
            f"MTTR over {mttr['count']} measurement(s): p50 {_ms(mttr['p50'])}, p95 {_ms(mttr['p95'])}.",
        ]
    lines += ["", "## Steady state", ""]
    for phase in ("before", "after"):
        state = journal["steady_states"][phase]
        met = "not checked" if state is None else ("met" if state["steady_state_met"] else "**not met**")
        lines.append(f"- {phase}: {met}")
    for during in journal["steady_states"]["during"]:
        lines.append(f"- during, {during['probe']}: {during['failures']}/{during['samples']} samples failed")
    if sw.get("statistics"):
        lines += _statistics(sw["statistics"])
    lines += ["", "## Restore", ""]
    lines += [
        f"- {r['kind']} on {r['target']}: {'ok' if r['ok'] else 'FAILED'} — {r['detail']}"
        for r in sw["restore"]
    ]
    lines += [f"- rollback {r['activity']['name']}: {r['status']}" for r in journal["rollbacks"]]
    if not sw["restore"] and not journal["rollbacks"]:
        lines.append("- nothing to restore")
    if sw["notes"]:
        lines += ["", "## Notes", "", *(f"- {n}" for n in sw["notes"])]
    return "\n".join(lines) + "\n"


def junit(journal: dict[str, Any]) -> str:
    """JUnit XML: one test case per phase (steady state before/after, each fault's recovery, restore)."""
    sw = journal["seawall"]
    suite = ET.Element("testsuite", name=f"chaos: {journal['experiment'].get('title', '')}")
    cases: list[tuple[str, str | None]] = []
    for phase in ("before", "after"):
        state = journal["steady_states"][phase]
        if state is not None:
            cases.append(
                (f"steady state {phase}", None if state["steady_state_met"] else "steady state not met")
            )
    for phase_name, phase in ((sw.get("statistics") or {}).get("phases") or {}).items():
        if phase_name != "during":
            problem = "; ".join(phase["breaches"]) or None
            cases.append((f"statistical steady state {phase_name}", problem))
    for fault in sw["faults"]:
        name = f"{fault['kind']} on {fault['target']}"
        if fault["error"]:
            cases.append((name, f"injection failed: {fault['error']}"))
            continue
        bad = [label for label, m in fault["probes"].items() if not m["recovered"]]
        limit = sw.get("recover_within")
        slow = [
            label
            for label, m in fault["probes"].items()
            if limit is not None and (m["recovery_after_removal"] or 0) > limit
        ]
        problem = (
            f"not recovered: {', '.join(bad)}"
            if bad
            else (f"slow recovery: {', '.join(slow)}" if slow else None)
        )
        cases.append((f"recovery after {name}", problem))
    failed_restore = [r for r in sw["restore"] if not r["ok"]] + [
        r for r in journal["rollbacks"] if r["status"] != "succeeded"
    ]
    cases.append(("restore and rollbacks", f"{len(failed_restore)} failed" if failed_restore else None))
    cases.append(
        ("verdict", None if sw["status"] == "passed" else f"status {sw['status']} (exit {sw['exit_code']})")
    )
    for name, problem in cases:
        case = ET.SubElement(suite, "testcase", classname=f"chaos.{sw['run_id']}", name=name)
        if problem is not None:
            ET.SubElement(case, "failure", message=problem).text = problem
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for _, p in cases if p is not None)))
    suite.set("time", f"{journal['duration']:.3f}")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


__all__ = ["junit", "markdown"]

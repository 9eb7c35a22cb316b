"""Rendering of the promotion review: terminal tables, JSON and the Markdown dossier."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.table import Table

from targeting.compile.english import describe
from targeting.decide.policy import Criterion, Verdict
from targeting.decide.review import Review
from targeting.render import formats as report
from targeting.render.criteria import explain_verdict, policy_sentences, summary
from targeting.render.escape import markdown as md
from targeting.render.escape import one_line
from targeting.render.escape import terminal as shown
from targeting.units import num, pct


def as_json(review: Review) -> dict[str, Any]:
    """The JSON document of `targeting candidates --format json`."""
    return {
        "policy_hash": review.policy.hash,
        "data_fingerprint": review.data_fingerprint,
        "window": review.window.as_dict(),
        "policy": review.policy.values,
        "evidence_source": review.evidence_source,
        "expected_false_promotions": review.expected_false_promotions,
        "candidates": [{**v.as_dict(), "summary": summary(v),
                        "explanation": [e.as_dict() for e in explain_verdict(v, review.policy)]}
                       for v in review.verdicts],
        "retire": [{"id": r.rule.id, "reasons": r.reasons} for r in review.retire],
        "cannot_judge": [{"id": r.rule.id, "reasons": r.reasons} for r in review.unjudged],
    }


def terminal(review: Review) -> Iterator[Any]:
    """Renderables for the terminal: the verdict table, then retirements."""
    yield (f"policy {review.policy.hash[:12]} · window {review.window.since} .. {review.window.until}"
           f" · evidence after each query's created date and its predicate's first appearance, "
           f"by {shown(review.evidence_source)}"
           if review.policy.prospective else f"policy {review.policy.hash[:12]}")
    table = Table(box=None, pad_edge=False, header_style="bold", title="Promotion candidates",
                  title_justify="left")
    for header in ("id", "port", "verdict", "estimate [95% CI]", "q", "evidence", "fails"):
        table.add_column(header, no_wrap=header != "fails")
    for v in review.verdicts:
        verdict = f"[green]{v.outcome().upper()}[/]" if v.promote else "not yet"
        fails = ", ".join(c.name for c in v.failing) or "–"
        table.add_row(shown(v.rule.id), shown(one_line(v.rule.port or "")), verdict,
                      report.estimate(v.metrics, review.policy.min_examined),
                      num(v.metrics.get("q_value"), 3), _start(v), fails)
    yield table
    yield false_line(review)
    if review.retire:
        yield "\n[bold]UDRs proposed for retirement[/]"
        for r in review.retire:
            yield shown(one_line(f"{r.rule.id} ({r.rule.title}): " + "; ".join(r.reasons)))
    else:
        yield "\nNo active UDR meets a retirement criterion."
    for r in review.unjudged:
        yield shown(one_line(f"{r.rule.id} ({r.rule.title}): " + "; ".join(r.reasons)))


def _start(v: Verdict) -> str:
    """The evidence start in a table cell (the line above the table names the source)."""
    return "unregistered" if v.evidence_source == "unregistered" else str(v.evidence_window.since)


def false_line(review: Review) -> str:
    promoted = sum(v.promote for v in review.verdicts)
    return (f"{promoted} promotable at a false discovery rate of {review.policy.fdr:g} "
            f"(Benjamini-Hochberg over {len(review.verdicts)} queries): at most "
            f"{review.expected_false_promotions:.2f} expected not truly above the bar")


def markdown(review: Review) -> str:
    """The review dossier: what to sign first, the policy, every query (the table, then each
    query's explanation in the table's order), retirements, sign-off."""
    parts = [_header(review), _to_sign(review), _policy(review), _summary(review)]
    parts += [_candidate(review, v) for v in review.verdicts]
    parts.append(_retirements(review))
    parts.append("## Sign-off\n\n| decision | reviewer | date | signature |\n|---|---|---|---|\n"
                 "| | | | |\n")
    return "\n".join(parts)


def _header(review: Review) -> str:
    return (f"# Promotion review\n\n- window: {review.window.since} .. {review.window.until}\n"
            f"- policy hash: `{review.policy.hash}`\n"
            f"- evidence source: {md(review.evidence_source)}\n"
            f"- data fingerprint: `{review.data_fingerprint}`\n"
            f"- promotable queries: {sum(v.promote for v in review.verdicts)} of {len(review.verdicts)}\n"
            f"- {false_line(review)}\n")


def to_sign(review: Review) -> list[str]:
    """The decisions the review asks for, one line each (promotions, then retirements)."""
    lines = [f"Promote {v.rule.id} ({v.rule.title}) {_scope(v)}: meets every criterion; "
             f"{report.estimate(v.metrics, review.policy.min_examined)} estimated precision"
             f"{_predicted(v)}."
             for v in review.verdicts if v.promote]
    lines += [f"Retire {r.rule.id} ({r.rule.title}): {'; '.join(r.reasons)}." for r in review.retire]
    return lines or ["Nothing to sign: no query meets the policy and no UDR meets a retirement "
                     "criterion."]


def _predicted(v: Verdict) -> str:
    predicted = v.metrics.get("predicted_hit_rate")
    return "" if predicted is None else f", about {pct(predicted)} to expect once it runs (shrunk)"


def _scope(v: Verdict) -> str:
    if v.scope == "national":
        return "as a national UDR"
    return f"as a UDR at port {v.rule.port}"


def _to_sign(review: Review) -> str:
    return "## To sign\n\n" + "\n".join(f"- {md(line)}" for line in to_sign(review)) + "\n"


def _policy(review: Review) -> str:
    return ("## The policy\n\nA query is promoted when it meets every criterion:\n\n"
            + "\n".join(f"- {md(line)}" for line in policy_sentences(review.policy)) + "\n")


def _summary(review: Review) -> str:
    lines = ["## All active queries\n",
             "| id | port | verdict | estimated precision [95% CI] | observed hit rate | p | q "
             "| fails |", "|---|---|---|---|---|---|---|---|"]
    for v in review.verdicts:
        fails = ", ".join(c.name for c in v.failing) or "–"
        lines.append(f"| {md(v.rule.id)} | {md(v.rule.port or '')} | "
                     f"{f'**{v.outcome()}**' if v.promote else 'not yet'} | "
                     f"{report.estimate(v.metrics, review.policy.min_examined)} | "
                     f"{pct(v.metrics.get('hit_rate'))} | {num(v.metrics.get('p_value'), 3)} | "
                     f"{num(v.metrics.get('q_value'), 3)} | {fails} |")
    return "\n".join(lines) + "\n"


def _candidate(review: Review, v: Verdict) -> str:
    rule = v.rule
    lines = [f"## {md(rule.id)}: {md(rule.title)}\n",
             f"**{md(summary(v))}.** Owner {md(rule.owner or '–')}, port {md(rule.port or '–')}, "
             f"created {rule.created or '–'}; "
             f"{md(report.evidence_from(v.evidence_window.since, v.evidence_source))}.\n",
             f"> {md(describe(rule.where))}\n"]
    if rule.rationale:
        lines.append(f"Rationale: {md(rule.rationale)}\n")
    for e in explain_verdict(v, review.policy):
        lines.append(f"- {'✅' if e.passed else '❌'} {md(e.sentence)}"
                     + (f" **{e.prefix}:** {md(e.change)}." if e.change else ""))
    lines.append("")
    detail = review.details.get(v.rule.id)
    if detail is not None:
        lines.append("\n**Monthly trend** (targeted / examined / discrepant)\n")
        lines.append(report.markdown_table(detail.monthly))
        lines.append("\n**By port**\n")
        lines.append(report.markdown_table(detail.by_port, {"hit_rate": pct}))
        lines.append("\n**Overlap with active UDRs**\n")
        lines.append(report.markdown_table(detail.overlaps, _OVERLAP_FORMATS)
                     if detail.overlaps else "No active UDR matches any of the same shipments.")
    return "\n".join(lines) + "\n"


_OVERLAP_FORMATS = dict.fromkeys(("jaccard", "share_of_rule", "share_of_udr"), pct)


def _retirements(review: Review) -> str:
    lines = ["## UDRs proposed for retirement\n" if review.retire
             else "## Retirement\n\nNo active UDR meets a retirement criterion."]
    lines += [f"- **{md(r.rule.id)}** ({md(r.rule.title)}): " + md("; ".join(r.reasons))
              for r in review.retire]
    if review.unjudged:
        lines.append("\n### UDRs that cannot be judged\n")
        lines += [f"- **{md(r.rule.id)}** ({md(r.rule.title)}): " + md("; ".join(r.reasons))
                  for r in review.unjudged]
    return "\n".join(lines) + "\n"


def criteria_rows(criteria: list[Criterion]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in criteria]

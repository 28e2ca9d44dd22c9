"""The GitHub Actions workflows (validated as YAML) and the feedback script they call.

The script is exercised against a fake GitHub API on 127.0.0.1 (real HTTP through urllib).
"""
from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
GITHUB_DIR = REPO / "source" / "rnn_lstm" / ".github"
RELEASED = REPO / "assignments" / "rnn_lstm" / ".github"
SCRIPT = GITHUB_DIR / "scripts" / "feedback.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("student_feedback", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


feedback = _load_script()


def _workflow(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and "jobs" in doc, path
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def _steps(doc: dict) -> List[dict]:
    (job,) = doc["jobs"].values()
    assert job["runs-on"].startswith("ubuntu") and isinstance(job.get("timeout-minutes"), int)
    for step in job["steps"]:
        assert ("uses" in step) != ("run" in step), step
    return job["steps"]


# --------------------------------------------------------------------------- workflow files


def test_student_workflow_structure():
    doc = _workflow(GITHUB_DIR / "workflows" / "feedback.yml")
    assert {"push", "pull_request"} <= set(doc["on"])
    assert doc["permissions"]["pull-requests"] == "write" and doc["permissions"]["contents"] == "read"
    steps = _steps(doc)
    assert steps[0]["uses"].startswith("actions/checkout@v")
    by_id = {s.get("id"): s for s in steps if s.get("id")}
    assert "pytest tests" in by_id["public"]["run"] and by_id["public"]["continue-on-error"] is True
    fetch = by_id["bundle"]
    assert fetch["env"]["AUTOGRADER_BUNDLE_URL"] == "${{ secrets.AUTOGRADER_BUNDLE_URL }}"
    # the formative student-CI bundle (no reference code), never the Gradescope grader
    assert not [s for s in steps if "python -m autograder grade" in s.get("run", "")]
    grading = [s for s in steps if "python -m autograder.student_ci" in s.get("run", "")]
    assert len(grading) == 1 and "steps.bundle.outputs.available == 'true'" in grading[0]["if"]
    publish = [s for s in steps if "feedback.py publish" in s.get("run", "")]
    assert len(publish) == 1 and publish[0]["if"] == "always()"
    assert publish[0]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    # secrets reach scripts through env only, never pasted into a shell command
    assert all("secrets." not in s.get("run", "") for s in steps)
    # every script the workflow calls exists in the release
    for step in steps:
        for script in re.findall(r"\.github/scripts/[\w./-]+", step.get("run", "")):
            assert (GITHUB_DIR.parent / script).is_file(), script
    assert steps[-1]["if"] == "steps.public.outcome == 'failure'" and "exit 1" in steps[-1]["run"]


def _course_pins(python_version: str) -> Dict[str, str]:
    """constraints.txt's pins (by canonical name) that apply to ``python_version``, e.g. "3.11".

    setup-python's "3.11" is the newest 3.11 patch release: a patch number above any real one
    evaluates the ``python_full_version`` markers that ``make constraints`` writes.
    """
    from packaging.markers import Marker

    environment = {"python_version": python_version, "python_full_version": f"{python_version}.99"}
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        requirement, _, marker = line.partition(";")
        if "==" not in requirement or line.lstrip().startswith("#"):
            continue
        if marker.strip() and not Marker(marker.strip()).evaluate(environment):
            continue
        name, version = requirement.strip().split("==")
        pins[canonicalize_name(name)] = version
    return pins


def test_student_ci_requirements_are_pinned_like_the_course():
    steps = _steps(_workflow(GITHUB_DIR / "workflows" / "feedback.yml"))
    (python,) = [s["with"]["python-version"] for s in steps if s.get("uses", "").startswith("actions/setup-python")]
    pins = _course_pins(python)
    lines = [l for l in (GITHUB_DIR / "requirements-ci.txt").read_text().splitlines() if l and not l.startswith("#")]
    assert {"numpy", "pytest"} <= {l.split("==")[0] for l in lines}
    for line in lines:
        name, version = line.split("==")
        assert pins.get(canonicalize_name(name)) == version, line


def test_repository_ci_runs_make_test():
    """CI runs every test: `make test-all` (the slow sweeps too), in the workflow and in .ci/run."""
    doc = _workflow(REPO / ".github" / "workflows" / "ci.yml")
    assert {"push", "pull_request"} <= set(doc["on"])
    runs = [s.get("run", "") for s in _steps(doc)]
    assert any(re.match(r"make test-all\b", r) for r in runs)
    assert re.search(r"^make test-all\b", (REPO / ".ci" / "run").read_text(), re.MULTILINE)


def test_workflow_files_are_released_to_students():
    for source in sorted(p for p in GITHUB_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        released = RELEASED / source.relative_to(GITHUB_DIR)
        assert released.is_file() and released.read_bytes() == source.read_bytes(), f"run `python -m autograder release`: {released}"


# --------------------------------------------------------------------------- public tests summary


def test_public_summary_from_a_real_pytest_run(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2, 'dWh | wrong'\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'j.xml'}", str(tmp_path / "test_x.py")],
                   capture_output=True, cwd=tmp_path)
    out = tmp_path / "public.md"
    assert feedback.main(["public-summary", "--junit", str(tmp_path / "j.xml"), "--out", str(out)], env={}) == 0
    text = out.read_text()
    assert "1 passed, 1 failed, 0 skipped" in text and "test_bad" in text and "dWh \\| wrong" in text
    assert "did not run" in feedback.junit_markdown(tmp_path / "missing.xml")


def test_public_summary_never_cuts_a_hint(tmp_path):
    hint = "Lists are in layer order, layer 0 first: your entry 0 is layer 1's."
    long = "stacked_backward(rnn): dh0s[0] (gradient check against your forward pass) is wrong: " + "x" * 300 + ". " + hint
    (tmp_path / "test_y.py").write_text(f"import pytest\n\ndef test_hint():\n    pytest.fail({long!r}, pytrace=False)\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'j.xml'}",
                    str(tmp_path / "test_y.py")], capture_output=True, cwd=tmp_path)
    text = feedback.junit_markdown(tmp_path / "j.xml")
    assert long in text and text.count(hint) == 1
    huge = "First sentence. " * 200
    assert feedback.failure_message(huge).endswith("First sentence. … (the whole message is in the job log)")


# --------------------------------------------------------------------------- fake GitHub


class FakeGitHub:
    """Issue comments of one pull request, served like the REST API (paginated by 100)."""

    def __init__(self, comments: List[dict], files: Dict[str, bytes] = {}) -> None:
        self.comments, self.files, self.requests = comments, dict(files), []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def _send(self, status: int, payload, headers: Dict[str, str] = {}) -> None:
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                return body

            def do_GET(self):
                self._record()
                if self.path in fake.files:
                    return self._send(200, fake.files[self.path])
                match = re.fullmatch(r"/repos/o/r/issues/7/comments\?per_page=100(?:&page=(\d+))?", self.path)
                if not match:
                    return self._send(404, {"message": "Not Found"})
                page = int(match.group(1) or 1)
                chunk = fake.comments[(page - 1) * 100: page * 100]
                headers = {}
                if page * 100 < len(fake.comments):
                    base = f"http://{self.headers['Host']}/repos/o/r/issues/7/comments?per_page=100"
                    headers["Link"] = f'<{base}&page={page + 1}>; rel="next", <{base}&page=9>; rel="last"'
                self._send(200, chunk, headers)

            def do_POST(self):
                body = self._record()
                if self.path != "/repos/o/r/issues/7/comments":
                    return self._send(404, {"message": "Not Found"})
                comment = {"id": 1000 + len(fake.comments), "body": body["body"], "user": {"login": "github-actions[bot]"}}
                fake.comments.append(comment)
                self._send(201, comment)

            def do_PATCH(self):
                body = self._record()
                match = re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", self.path)
                target = [c for c in fake.comments if match and c["id"] == int(match.group(1))]
                if not target:
                    return self._send(404, {"message": "Not Found"})
                target[0]["body"] = body["body"]
                self._send(200, target[0])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github():
    others = [{"id": i, "body": f"a review remark {i}", "user": {"login": "ta"}} for i in range(150)]
    server = FakeGitHub(others)
    yield server
    server.close()


def _env(tmp_path: Path, server: FakeGitHub, event: str = "pull_request") -> Dict[str, str]:
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 7}}))
    return {"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_REPOSITORY": "o/r",
            "GITHUB_API_URL": server.url, "GITHUB_TOKEN": "t0ken", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}


def _publish(tmp_path: Path, env: Dict[str, str], public: str, autograder: str = None) -> int:
    (tmp_path / "public.md").write_text(public)
    argv = ["publish", "--public", str(tmp_path / "public.md")]
    if autograder is not None:
        (tmp_path / "auto.md").write_text(autograder)
        argv += ["--autograder", str(tmp_path / "auto.md")]
    return feedback.main(argv, env=env)


def test_one_pull_request_comment_is_created_then_updated(tmp_path, github):
    env = _env(tmp_path, github)
    assert _publish(tmp_path, env, "## Public tests\n\nround one\n", "## Autograder\n\n42/100\n") == 0
    ours = [c for c in github.comments if feedback.MARKER in c["body"]]
    assert len(ours) == 1 and "round one" in ours[0]["body"] and "42/100" in ours[0]["body"]
    assert _publish(tmp_path, env, "## Public tests\n\nround two\n") == 0
    ours = [c for c in github.comments if feedback.MARKER in c["body"]]
    assert len(ours) == 1 and "round two" in ours[0]["body"] and "round one" not in ours[0]["body"]
    assert "Not configured" in ours[0]["body"]
    assert len(github.comments) == 151  # the others untouched
    assert all(c["body"] == f"a review remark {c['id']}" for c in github.comments if c["id"] < 150)
    methods = [r[0] for r in github.requests]
    assert methods.count("POST") == 1 and methods.count("PATCH") == 1
    assert all(r[2]["Authorization"] == "Bearer t0ken" for r in github.requests)
    assert any("page=2" in r[1] for r in github.requests)  # found on the second page
    summary = (tmp_path / "summary.md").read_text()
    assert "round one" in summary and "round two" in summary


def test_a_push_writes_only_the_job_summary(tmp_path, github):
    env = _env(tmp_path, github, event="push")
    assert _publish(tmp_path, env, "## Public tests\n\nok\n") == 0
    assert github.requests == [] and "ok" in (tmp_path / "summary.md").read_text()


def test_api_errors_fail_the_step_with_a_message(tmp_path, github, capsys):
    env = dict(_env(tmp_path, github), GITHUB_REPOSITORY="o/elsewhere")
    assert _publish(tmp_path, env, "x") == 1
    assert "HTTP 404" in capsys.readouterr().out


def test_long_feedback_fits_in_one_comment():
    body = feedback.comment_body("x" * 100000)
    assert len(body) < 65536 and body.startswith(feedback.MARKER) and "shortened" in body


def _zip(files: Dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_fetch_bundle_downloads_with_the_token_and_unpacks(tmp_path):
    server = FakeGitHub([], files={"/bundle.zip": _zip({"run_autograder": "#!/bin/sh\n", "autograder/__init__.py": ""})})
    try:
        output = tmp_path / "out.txt"
        env = {"AUTOGRADER_BUNDLE_URL": f"{server.url}/bundle.zip", "AUTOGRADER_BUNDLE_TOKEN": "s3cret", "GITHUB_OUTPUT": str(output)}
        assert feedback.main(["fetch-bundle", "--dest", str(tmp_path / "b")], env=env) == 0
        assert (tmp_path / "b" / "autograder" / "__init__.py").is_file()
        assert output.read_text() == "available=true\n"
        assert server.requests[0][2]["Authorization"] == "Bearer s3cret"
        env["AUTOGRADER_BUNDLE_URL"] = f"{server.url}/missing.zip"
        assert feedback.main(["fetch-bundle", "--dest", str(tmp_path / "c")], env=env) == 0
        assert output.read_text().endswith("available=false\n")
    finally:
        server.close()


def test_fetch_bundle_without_a_secret_or_with_an_unsafe_zip(tmp_path):
    output = tmp_path / "out.txt"
    assert feedback.main(["fetch-bundle", "--dest", str(tmp_path / "b")], env={"GITHUB_OUTPUT": str(output)}) == 0
    assert output.read_text() == "available=false\n" and not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="unsafe path"):
        feedback.unpack(_zip({"../escape.py": "x"}), tmp_path / "d")
    assert not (tmp_path / "escape.py").exists()

"""Feedback for every push and pull request (called by .github/workflows/feedback.yml).

Plain Python, standard library only. Sub-commands:

- ``public-summary --junit FILE --out FILE``: the public tests' JUnit XML as a Markdown report.
- ``fetch-bundle --dest DIR``: download and unpack the course's autograder bundle from the URL in
  the ``AUTOGRADER_BUNDLE_URL`` secret (with ``AUTOGRADER_BUNDLE_TOKEN`` as a bearer token when
  set); writes ``available=true|false`` to ``$GITHUB_OUTPUT``. No secret: nothing to do.
- ``publish --public FILE [--autograder FILE]``: (``BUNDLE_AVAILABLE=true`` says the autograder
  should have run) append the feedback to the job summary
  (``$GITHUB_STEP_SUMMARY``) and, on a pull request, keep ONE comment up to date: the comment
  carrying MARKER is edited, or created if there is none (GitHub REST API, ``$GITHUB_TOKEN``).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, List, Optional, Tuple

MARKER = "<!-- rnn-lstm-autograder-feedback -->"
COMMENT_LIMIT = 60000  # GitHub rejects comment bodies over 65536 characters
BUNDLE_LIMIT = 200 * 1024 * 1024

# (method, url, headers, body) -> (status, headers, body); tests inject a fake.
Http = Callable[[str, str, Dict[str, str], Optional[bytes]], Tuple[int, Dict[str, str], bytes]]


def urllib_http(method: str, url: str, headers: Dict[str, str], body: Optional[bytes] = None) -> Tuple[int, Dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read(BUNDLE_LIMIT + 1)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers or {}), error.read()


# --------------------------------------------------------------------------- public tests


def junit_markdown(junit: Path) -> str:
    """A Markdown report of a pytest JUnit XML file (a missing file says the tests did not run)."""
    if not junit.is_file():
        return "## Public tests\n\nThe public tests did not run (see the job log).\n"
    try:
        root = ElementTree.parse(junit).getroot()
    except ElementTree.ParseError as exc:
        return f"## Public tests\n\nThe test report could not be read: {exc}\n"
    cases = root.iter("testcase")
    rows: List[str] = []
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for case in cases:
        name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            counts["failed"] += 1
            message = " ".join((problem.get("message") or "").split()).replace("|", "\\|")  # whole: a hint is never cut
            rows.append(f"| ❌ | `{name}` | {message} |")
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    lines = ["## Public tests", "", f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped."]
    if rows:
        lines += ["", "| | test | message |", "|---|---|---|"] + rows
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the bundle


def unpack(data: bytes, dest: Path) -> int:
    """Unpack a zip into ``dest``, refusing absolute paths and ``..``; returns the file count."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        for member in members:
            path = PurePosixPath(member.filename)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"unsafe path in the bundle: {member.filename}")
        dest.mkdir(parents=True, exist_ok=True)
        archive.extractall(dest)
    return sum(1 for m in members if not m.is_dir())


def fetch_bundle(dest: Path, env: Dict[str, str], http: Http = urllib_http) -> bool:
    """Download and unpack the bundle named by the environment; False when the course gives none."""
    url = env.get("AUTOGRADER_BUNDLE_URL", "").strip()
    if not url:
        print("No AUTOGRADER_BUNDLE_URL secret: only the public tests run.")
        return False
    headers = {"User-Agent": "rnn-lstm-feedback"}
    if env.get("AUTOGRADER_BUNDLE_TOKEN"):
        headers["Authorization"] = f"Bearer {env['AUTOGRADER_BUNDLE_TOKEN']}"
    status, _, body = http("GET", url, headers, None)
    if status != 200:
        raise RuntimeError(f"downloading the autograder bundle failed: HTTP {status}")
    if len(body) > BUNDLE_LIMIT:
        raise RuntimeError("the autograder bundle is larger than 200 MB")
    count = unpack(body, dest)
    print(f"Unpacked the autograder bundle ({count} files) into {dest}")
    return True


# --------------------------------------------------------------------------- publishing


def comment_body(text: str) -> str:
    """The pull-request comment: the marker, then the feedback (shortened to fit GitHub's limit)."""
    if len(text) > COMMENT_LIMIT:
        text = text[:COMMENT_LIMIT] + "\n\n… (shortened; the full report is in the job summary)\n"
    return f"{MARKER}\n{text}"


class GitHub:
    """The few REST calls needed to keep one comment up to date."""

    def __init__(self, api: str, repository: str, token: str, http: Http = urllib_http) -> None:
        self.api, self.repository, self.token, self.http = api.rstrip("/"), repository, token, http

    def _call(self, method: str, url: str, payload: Optional[dict] = None) -> Tuple[object, Dict[str, str]]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "rnn-lstm-feedback"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        status, response_headers, data = self.http(method, url, headers, body)
        if status >= 300:
            raise RuntimeError(f"GitHub API {method} {url}: HTTP {status}: {data[:300].decode(errors='replace')}")
        return (json.loads(data) if data else None), response_headers

    def comments(self, number: int) -> List[dict]:
        found: List[dict] = []
        url: Optional[str] = f"{self.api}/repos/{self.repository}/issues/{number}/comments?per_page=100"
        while url:
            page, headers = self._call("GET", url)
            found.extend(page or [])  # type: ignore[arg-type]
            url = _next_link(headers.get("Link") or headers.get("link") or "")
        return found

    def upsert(self, number: int, body: str) -> Tuple[str, int]:
        """Edit the comment that carries MARKER, or create one; returns ("updated"|"created", id)."""
        for comment in self.comments(number):
            if MARKER in (comment.get("body") or ""):
                self._call("PATCH", f"{self.api}/repos/{self.repository}/issues/comments/{comment['id']}", {"body": body})
                return "updated", int(comment["id"])
        created, _ = self._call("POST", f"{self.api}/repos/{self.repository}/issues/{number}/comments", {"body": body})
        return "created", int(created["id"])  # type: ignore[index]


def _next_link(header: str) -> Optional[str]:
    for part in header.split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    return None


def pull_request_number(env: Dict[str, str]) -> Optional[int]:
    """The pull request of this run, from the event payload; None for a push."""
    if env.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_target"):
        return None
    try:
        event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
        return int(event["pull_request"]["number"])
    except (KeyError, OSError, ValueError, TypeError):
        return None


def publish(texts: List[str], env: Dict[str, str], http: Http = urllib_http) -> str:
    """Write the feedback to the job summary and the pull-request comment; returns what was done."""
    report = "# Feedback on rnn_lstm\n\n" + "\n".join(t.strip() + "\n" for t in texts if t.strip())
    done = []
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(report)
        done.append("job summary written")
    number = pull_request_number(env)
    if number is not None:
        if not env.get("GITHUB_TOKEN"):
            done.append("no GITHUB_TOKEN: pull-request comment skipped")
        else:
            github = GitHub(env.get("GITHUB_API_URL", "https://api.github.com"), env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"], http)
            action, comment_id = github.upsert(number, comment_body(report))
            done.append(f"pull-request comment {comment_id} {action}")
    return "; ".join(done) or "nothing to publish to (not in GitHub Actions)"


# --------------------------------------------------------------------------- command line


def main(argv: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None, http: Http = urllib_http) -> int:
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    public = sub.add_parser("public-summary")
    public.add_argument("--junit", type=Path, required=True)
    public.add_argument("--out", type=Path, required=True)
    fetch = sub.add_parser("fetch-bundle")
    fetch.add_argument("--dest", type=Path, required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("--public", type=Path, required=True)
    pub.add_argument("--autograder", type=Path)
    args = parser.parse_args(argv)

    if args.command == "public-summary":
        args.out.write_text(junit_markdown(args.junit), encoding="utf-8")
        return 0
    if args.command == "fetch-bundle":
        try:
            available = fetch_bundle(args.dest, env, http)
        except (RuntimeError, ValueError, zipfile.BadZipFile, OSError) as exc:
            print(f"::warning::{exc}; only the public tests run")
            available = False
        if env.get("GITHUB_OUTPUT"):
            with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
                handle.write(f"available={'true' if available else 'false'}\n")
        return 0
    texts = [args.public.read_text(encoding="utf-8") if args.public.is_file() else junit_markdown(Path("missing.xml"))]
    if args.autograder is not None and args.autograder.is_file():
        texts.append(args.autograder.read_text(encoding="utf-8"))
    elif env.get("BUNDLE_AVAILABLE") == "true":
        texts.append("## Autograder\n\nThe autograder did not produce feedback (see the job log).\n")
    else:
        texts.append("## Autograder\n\nNot configured for this repository: only the public tests ran.\n")
    try:
        print(publish(texts, env, http))
    except RuntimeError as exc:
        print(f"::error::{exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

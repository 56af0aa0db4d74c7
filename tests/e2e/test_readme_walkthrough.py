"""The README's "Try it" walkthrough, run as written: its bash block, against the Procfile's
web, worker and beat started by `make run`'s own command (honcho, as `make -n run` prints it) with
the settings of the README's `make run` line, exits 0 and prints what the README says it prints.
A README that drifts from the API, or a `make run` whose processes disagree, fails here."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from tests.processes import ROOT, answers, free_port, running

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()


def fenced_block_after(marker: str) -> str:
    """The body of the first fenced code block after `marker` in the README."""
    match = re.search(re.escape(marker) + r"\n```\w*\n(.*?)\n```\n", README, re.DOTALL)
    assert match, f"no code block after {marker!r} in the README"
    return match.group(1)


def make_run_settings() -> dict[str, str]:
    """The variables the walkthrough's `make run` line sets (the first administrator)."""
    try_it = README[README.index("### Try it") :]
    [line] = re.findall(r"^((?:[A-Z_]+=\S+ )+)make run$", try_it, re.MULTILINE)[:1]
    return dict(assignment.split("=", 1) for assignment in line.split())


def honcho_command() -> str:
    """The command `make run` starts the Procfile with, as make itself spells it out."""
    recipe = subprocess.run(["make", "--no-print-directory", "-n", "run"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.replace("\\\n", " ")  # fmt: skip
    [command] = [line for line in recipe.splitlines() if "honcho start" in line]
    return command


def test_the_readme_walkthrough_runs_as_written(stack_env, smtp_sink, tmp_path):
    script = fenced_block_after("<!-- walkthrough -->")
    promised = fenced_block_after("<!-- walkthrough output -->").splitlines()
    port = free_port()
    # As `make run` has it: rate limits on, the first administrator from the README's line; the
    # mail goes to the test's sink instead of the Procfile's `mail` process.
    env = {**stack_env(PORT=str(port), SMTP_HOST=smtp_sink.host, SMTP_PORT=str(smtp_sink.port),
                       **make_run_settings()), "RATE_LIMITS_ENABLED": "true"}  # fmt: skip
    env.pop("PUBLIC_BASE_URL", None)
    command = f"bash -c {shlex.quote(honcho_command() + ' web worker beat')}"
    with running(command, env, answers(f"http://127.0.0.1:{port}/readyz"), timeout=60):
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=180)  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout.splitlines()
    positions = [printed.index(line) if line in printed else -1 for line in promised]
    assert -1 not in positions and positions == sorted(positions), "\n".join(printed)
    assert (tmp_path / "tickets.pdf").read_bytes().startswith(b"%PDF-")
    assert "cleo@example.com" in {to for mail in smtp_sink.received for to in mail.rcpt_tos}

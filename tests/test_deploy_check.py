"""`manage.py check --deploy` is clean under the HTTPS settings docs/deploy.md gives."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def documented_https_settings() -> dict[str, str]:
    """The variables of the HTTPS section's example, as the page prints them."""
    text = DEPLOY_DOC.read_text()
    section = text[text.index("## HTTPS") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return dict(re.findall(r"\b([A-Z_]+)=(\S+)", block))


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "DEBUG", "SECRET_KEY", "BEHIND_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_https_settings_pass_check_deploy():
    env = documented_https_settings()
    assert env["DEBUG"] == "0"
    assert "SECURE_HSTS_SECONDS" in env and "SECURE_SSL_REDIRECT" in env
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # the page shows a placeholder
    result = run_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_them():
    result = run_check({"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, check

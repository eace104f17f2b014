"""Every shell script the README's commands reach must at least parse.

A quoting slip inside a long single-quoted `bash -c` body (an apostrophe in a comment) once
ended the fresh-machine check with "unexpected EOF" after its steps had passed; bash only
finds such a slip when it reaches it, so `bash -n` checks each whole file up front.
"""

import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "scripts").glob("*.sh")) + [
    Path(__file__).resolve().parents[1] / ".ci" / "run"
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_the_scripts_are_found() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"run.sh", "provision-db.sh", "fresh-machine-check.sh", "run"} <= names

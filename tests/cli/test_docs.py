"""Completions and man pages are generated from the code and kept in sync; they work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import REGCTL, ROOT
from tests.support.tools import require_tool

GENERATED = [
    "completions/regctl.bash",
    "completions/regctl.zsh",
    "completions/regctl.fish",
    "man/regctl.1",
    "man/regd.8",
]
COMMANDS = [
    "create",
    "show",
    "list",
    "replace",
    "merge",
    "delete",
    "do",
    "login",
    "logout",
    "whoami",
    "version",
    "repositories list",
    "repositories show",
    "repositories create",
    "repositories delete",
    "repositories access-rules add",
    "repositories access-rules list",
    "repositories access-rules remove",
    "tags list",
    "tags delete",
    "token show",
    "tokens create",
    "tokens list",
    "tokens revoke",
    "users list",
    "users show",
    "users create",
    "users delete",
    "users passwd",
    "api-clients create",
    "api-clients list",
    "api-clients show",
    "api-clients reset-secret",
    "api-clients delete",
    "api-clients credentials",
    "policies list",
    "policies show",
    "role-bindings list",
    "role-bindings add",
    "role-bindings remove",
    "vaults list",
    "vaults show",
    "vaults create",
    "vaults delete",
    "secrets list",
    "secrets show",
    "secrets create",
    "secrets set",
    "secrets delete",
    "remote-registries list",
    "remote-registries show",
    "remote-registries create",
    "remote-registries delete",
    "registry login",
    "config get-contexts",
    "config current-context",
    "config use-context",
    "config delete-context",
    "audit list",
    "webhooks list",
    "webhooks show",
    "webhooks create",
    "webhooks delete",
    "webhooks deliveries",
]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    done = _run(sys.executable, "scripts/gen-cli-docs", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    stale = [
        name
        for name in GENERATED
        if not (ROOT / name).exists() or (ROOT / name).read_text() != (tmp_path / name).read_text()
    ]
    assert not stale, f"run scripts/gen-cli-docs: {stale} differ from what the code generates"


def _man(page: str) -> str:
    require_tool("man")
    done = _run("man", "-l", str(ROOT / "man" / page), env={"MANWIDTH": "200", "MANPAGER": "cat"})
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    return done.stdout


def test_man_regctl_documents_every_command_format_and_exit_code() -> None:
    page = _man("regctl.1")
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "OUTPUT", "EXIT STATUS", "FILES"):
        assert f"\n{section}\n" in page
    for command in COMMANDS:
        assert f"regctl {command} [OPTIONS]" in page, command
    for fmt in ("table", "json", "yaml", "name"):
        assert f"\n       {fmt} " in page, fmt
    exit_status = page.split("\nEXIT STATUS\n")[1].split("\nENVIRONMENT\n")[0]
    assert [line.split()[0] for line in exit_status.splitlines() if line[7:8].isdigit()] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "130",
    ]
    for variable in ("REGCTL_SERVER", "REGCTL_TOKEN", "REGCTL_CONFIG"):
        assert variable in page


def test_man_regd_documents_every_command() -> None:
    page = _man("regd.8")
    for command in ("serve", "migrate", "version"):
        assert f"regd {command} [-h]" in page
    assert "REGD_ADDR" in page


def test_groff_renders_without_warnings() -> None:
    require_tool("groff")
    for page in ("regctl.1", "regd.8"):
        done = _run("groff", "-man", "-Tutf8", "-ww", "-z", str(ROOT / "man" / page))
        assert done.returncode == 0
        assert done.stderr == "", (page, done.stderr)


def _bash_complete(*words: str) -> list[str]:
    script = (
        "source completions/regctl.bash\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
        '_regctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = _run("bash", "-c", script, "bash", *words)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion() -> None:
    assert "repositories" in _bash_complete("regctl", "")
    assert _bash_complete("regctl", "rep") == ["replace", "repositories"]
    assert _bash_complete("regctl", "repos", "") == [
        "list",
        "show",
        "create",
        "delete",
        "access-rules",
    ]
    assert _bash_complete("regctl", "repos", "access-rules", "") == ["add", "list", "remove"]
    assert _bash_complete("regctl", "--server", "http://x", "tags", "") == ["list", "delete"]
    assert _bash_complete("regctl", "list", "users", "-o", "") == ["table", "json", "yaml", "name"]
    # A command's own -o has its own values.
    assert _bash_complete("regctl", "token", "show", "-o", "") == [
        "text",
        "token",
        "json",
        "docker-config",
        "curl",
    ]
    assert _bash_complete("regctl", "api-clients", "credentials", "x", "-o", "") == [
        "table",
        "json",
        "yaml",
        "name",
        "docker-config",
        "k8s-secret",
        "env",
    ]
    assert _bash_complete("regctl", "api-clients", "create", "--role", "") == [
        "registry-viewer",
        "registry-editor",
    ]
    assert "--prefix" in _bash_complete("regctl", "repositories", "list", "--")
    assert _bash_complete("regctl", "create", "-f", "completions/regctl.ba") == [
        "completions/regctl.bash"
    ]


def test_fish_completion() -> None:
    require_tool("fish")

    def complete(line: str) -> list[str]:
        done = _run("fish", "-c", f"source completions/regctl.fish; complete -C'{line}'")
        assert done.returncode == 0, done.stderr
        return [entry.split("\t")[0] for entry in done.stdout.splitlines()]

    assert "repositories" in complete("regctl ")
    assert sorted(complete("regctl repos ")) == ["access-rules", "create", "delete", "list", "show"]
    assert "--prefix" in complete("regctl repositories list --")
    assert sorted(complete("regctl -o ")) == ["json", "name", "table", "yaml"]
    assert "docker-config" in complete("regctl token show -o ")


def test_zsh_completion() -> None:
    """zsh's completion widgets need a terminal: stub them and call _regctl's logic."""
    require_tool("zsh")
    script = (
        "compdef() { :; }\n"
        '_describe() { local -a a; a=("${(@P)${@[-1]}}"); print -l -- ${a%%:*}; }\n'
        'compadd() { shift; print -l -- "$@"; }\n'
        "_files() { print FILES; }\n"
        "source completions/regctl.zsh\n"
        'words=("$@"); CURRENT=${#words}; _regctl'
    )

    def complete(*words: str) -> list[str]:
        done = _run("zsh", "-c", script, "zsh", *words)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("regctl", "repos", "") == ["list", "show", "create", "delete", "access-rules"]
    assert complete("regctl", "-o", "") == ["table", "json", "yaml", "name"]
    assert complete("regctl", "token", "-o", "") == [
        "text",
        "token",
        "json",
        "docker-config",
        "curl",
    ]
    assert complete("regctl", "merge", "-f", "") == ["FILES"]


def test_docs_cli_shows_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in COMMANDS:
        assert f"regctl {command}" in text, command


def test_help_lists_every_top_level_command() -> None:
    done = _run(*REGCTL, "--help")
    assert done.returncode == 0
    for command in {c.split()[0] for c in COMMANDS}:
        assert f"\n  {command} " in done.stdout, command
    assert "repos " not in done.stdout  # the alias is hidden


def test_startup_imports_nothing_heavy() -> None:
    """``regctl --help`` must stay fast: httpx, rich, yaml load when a command needs them;
    docker runs docker-credential-regctl for every pull: it does not even load typer."""
    heavy = "{'httpx', 'rich', 'yaml', 'platformdirs', 'pydantic', 'keyring', 'click'}"
    for module, extra in (("regctl.app", ""), ("regctl.credential_helper", ", 'typer'")):
        code = (
            f"import sys, {module}\n"
            f"heavy = {heavy[:-1]}{extra}}} & set(sys.modules)\n"
            "print(sorted(heavy))"
        )
        done = _run(sys.executable, "-c", code)
        assert done.stdout == "[]\n", (module, done.stdout)

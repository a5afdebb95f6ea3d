"""Auth overhead, token issuance and regctl start-up (issues 4 and 6), measured with wrk/hyperfine.

    .venv/bin/python bench/auth_and_cli.py [--seconds 5]

Starts one regd on a free port (fresh temp data dir), pushes a small image, makes it
public, then measures with wrk (-t2 -c32): manifest GET anonymous (public repository),
with a Bearer registry token, and with Basic credentials; GET /token (a new ES256 JWT per
request). Then regctl cold starts with hyperfine. Python only sets things up; it never
sends the measured requests.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.oci import push_image  # noqa: E402
from tests.support.server import ADMIN_PASSWORD, start_regd  # noqa: E402


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, str]:
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers measuring {url}:\n{out}")
    return rate, p99


def hyperfine(command: str, env: dict[str, str]) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        subprocess.run(
            [
                "hyperfine",
                "-N",
                "--warmup",
                "3",
                "--runs",
                "20",
                "--export-json",
                export.name,
                command,
            ],
            capture_output=True,
            check=True,
            env=env,
        )
        return float(json.loads(Path(export.name).read_text())["results"][0]["median"]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory() as work:
        regd = start_regd(Path(work) / "data")
        try:
            with regd.client() as admin:
                push_image(admin, "bench/auth", "1.0")
                admin.post(
                    "/api/v1/repositories/bench/auth/-/access-rules",
                    json={"principal": "public", "actions": ["pull"]},
                ).raise_for_status()
            scope = "repository:bench/auth:pull"
            jwt = httpx.get(
                f"{regd.url}/token",
                params={"service": "regd", "scope": scope},
                auth=("admin", ADMIN_PASSWORD),
            ).json()["token"]
            basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
            manifest = f"{regd.url}/v2/bench/auth/manifests/1.0"
            rows = [
                ("manifest GET, anonymous (public repository)", *wrk(manifest, seconds, {})),
                (
                    "manifest GET, Bearer registry token",
                    *wrk(manifest, seconds, {"Authorization": f"Bearer {jwt}"}),
                ),
                (
                    "manifest GET, Basic admin:password",
                    *wrk(manifest, seconds, {"Authorization": f"Basic {basic}"}),
                ),
                (
                    "GET /token (new ES256 JWT each)",
                    *wrk(
                        f"{regd.url}/token?service=regd&scope={scope}",
                        seconds,
                        {"Authorization": f"Basic {basic}"},
                    ),
                ),
            ]
            env = {
                **os.environ,
                "REGCTL_SERVER": regd.url,
                "REGCTL_USERNAME": "admin",
                "REGCTL_PASSWORD": ADMIN_PASSWORD,
                "REGCTL_CONFIG": str(Path(work) / "regctl.yaml"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            }
            regctl = str(ROOT / ".venv" / "bin" / "regctl")
            cli = [
                ("regctl --help", hyperfine(f"{regctl} --help", env)),
                (
                    "regctl token show --format=token",
                    hyperfine(f"{regctl} token show --format=token", env),
                ),
            ]
        finally:
            regd.stop()
    anonymous = rows[0][1]
    print("| scenario | req/s | p99 | vs anonymous |\n| --- | --: | --: | --: |")
    for name, rate, p99 in rows:
        print(f"| {name} | {rate:,.0f} | {p99} | {rate / anonymous:.2f} |")
    print("\n| command | median ms (hyperfine, 20 runs) |\n| --- | --: |")
    for name, ms in cli:
        print(f"| `{name}` | {ms:.0f} |")


if __name__ == "__main__":
    main()

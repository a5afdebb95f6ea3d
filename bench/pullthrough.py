"""Pull-through cost (issue 5): cold and warm pulls through regd against direct pulls.

    .venv/bin/python bench/pullthrough.py [--mib 256]

Upstream: Debian's docker-registry with htpasswd auth (credentials in a Strongbox
secret). Measured with curl (one process per pull, output to /dev/null):
- a 256 MiB blob pulled directly from the upstream vs cold through regd (overhead target
  ≤ 15%), and warm through regd vs the same blob pushed to regd locally (about 1x);
- 20 concurrent cold pulls of another blob through regd, and how many upstream GETs
  of it docker-registry logged (target: one);
- a 256 MiB image (4 layers of 64 MiB) copied by skopeo to a ``dir:`` directly from the
  upstream vs cold through regd: what a user pulling an image sees (``--image-runs``
  fresh images each way, median).
Python only sets things up and reads the logs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.oci import image_manifest, push_blob  # noqa: E402
from tests.support.server import ADMIN_PASSWORD, start_regd  # noqa: E402
from tests.support.upstreams import start_docker_registry  # noqa: E402


def upstream_push(url: str, auth: tuple[str, str], name: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=url, auth=auth, timeout=300) as client:
        location = client.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
        separator = "&" if "?" in location else "?"  # keep docker-registry's _state
        client.put(f"{location}{separator}digest={digest}", content=data).raise_for_status()
    return digest


def upstream_image(url: str, auth: tuple[str, str], name: str, layers: list[bytes]) -> None:
    """Push an image of ``layers`` as ``name:1.0``."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    for blob in (config, *layers):
        upstream_push(url, auth, name, blob)
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        client.put(
            f"/v2/{name}/manifests/1.0",
            content=image_manifest(config, layers),
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        ).raise_for_status()


def skopeo_seconds(work: Path, reference: str, creds: str) -> float:
    """Wall time of one ``skopeo copy`` of ``reference`` into a fresh ``dir:``."""
    policy = work / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    target = Path(tempfile.mkdtemp(dir=work))
    started = time.monotonic()
    subprocess.run(
        [
            *("skopeo", "--policy", str(policy), "copy", "--quiet", "--src-tls-verify=false"),
            *("--src-creds", creds, f"docker://{reference}", f"dir:{target}"),
        ],
        check=True,
    )
    elapsed = time.monotonic() - started
    shutil.rmtree(target)
    return elapsed


def curl_mibs(url: str, user: str, runs: int) -> float:
    """Median MiB/s of ``runs`` sequential curl downloads."""
    speeds = []
    for _ in range(runs):
        out = subprocess.run(
            ["curl", "-sf", "-u", user, "-o", "/dev/null", "-w", "%{speed_download}", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        speeds.append(float(out) / (1 << 20))
    return statistics.median(speeds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--image-runs", type=int, default=3)
    args = parser.parse_args()
    mib, image_runs = args.mib, args.image_runs
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is not installed"
    with tempfile.TemporaryDirectory() as work:
        upstream = start_docker_registry(binary, Path(work) / "up", "bench", "bench-password")
        regd = start_regd(Path(work) / "regd")
        try:
            blobs = [os.urandom(mib << 20) for _ in range(3)]
            digests = [
                upstream_push(upstream.url, ("bench", "bench-password"), "team/big", b)
                for b in blobs
            ]
            with regd.client() as admin:
                admin.post("/api/v1/strongbox/vaults", json={"name": "bench"}).raise_for_status()
                admin.post(
                    "/api/v1/strongbox/vaults/bench/secrets",
                    json={
                        "name": "up",
                        "data": {"username": "bench", "password": "bench-password"},
                    },
                ).raise_for_status()
                admin.post(
                    "/api/v1/image-registry/remote-registries",
                    json={
                        "address": upstream.host,
                        "override-address": upstream.url,
                        "credentials": [{"repository": "*", "vault": "bench", "secret": "up"}],
                    },
                ).raise_for_status()
                alias = upstream.host.replace(":", "-")
                push_blob(admin, "local/big", blobs[0])
            user = f"admin:{ADMIN_PASSWORD}"
            direct = curl_mibs(
                f"{upstream.url}/v2/team/big/blobs/{digests[0]}", "bench:bench-password", 3
            )
            through = f"{regd.url}/v2/{alias}/team/big/blobs/"
            cold = curl_mibs(through + digests[0], user, 1)
            # Warm and local pulls read the same file: measured in turns, after the
            # machine settled from the cold pull (its freed memory, its staged file).
            time.sleep(2)
            warms, locals_ = [], []
            for _ in range(3):
                warms.append(curl_mibs(through + digests[0], user, 1))
                locals_.append(curl_mibs(f"{regd.url}/v2/local/big/blobs/{digests[0]}", user, 1))
            warm, local = statistics.median(warms), statistics.median(locals_)
            # 20 concurrent cold pulls of a blob regd has not seen.
            started = time.monotonic()
            subprocess.run(
                ["curl", "-sf", "--parallel", "--parallel-max", "20", "-u", user]
                + [arg for _ in range(20) for arg in ("-o", "/dev/null", through + digests[1])],
                check=True,
            )
            elapsed = time.monotonic() - started
            gets = [
                r for r in upstream.synced_requests() if r.method == "GET" and digests[1] in r.path
            ]
            del blobs
            # Whole images with skopeo: fresh content for every copy, so each is cold.
            direct_s, cold_s, warm_s = [], [], []
            for run in range(image_runs):
                for way, times in (("direct", direct_s), ("cold", cold_s)):
                    name = f"team/image-{way}-{run}"
                    layers = [os.urandom(mib << 18) for _ in range(4)]
                    upstream_image(upstream.url, ("bench", "bench-password"), name, layers)
                    if way == "direct":
                        reference = f"{upstream.host}/{name}:1.0"
                        times.append(skopeo_seconds(Path(work), reference, "bench:bench-password"))
                    else:
                        reference = f"{regd.host}/{alias}/{name}:1.0"
                        times.append(skopeo_seconds(Path(work), reference, user))
                        warm_s.append(skopeo_seconds(Path(work), reference, user))
            status = Path(f"/proc/{regd.process.pid}/status").read_text()
            peak = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        finally:
            regd.stop()
            upstream.stop()
    print("| scenario | MiB/s | ratio |\n| --- | --: | --: |")
    print(f"| {mib} MiB blob, direct from docker-registry | {direct:,.0f} | 1.00 |")
    print(
        f"| the same, cold through regd (fetched and cached) | {cold:,.0f} | {cold / direct:.2f} |"
    )
    print(f"| warm through regd (cached) | {warm:,.0f} | {warm / local:.2f} of local |")
    print(f"| pushed to regd, local pull | {local:,.0f} | 1.00 |")
    print(
        f"\n20 concurrent cold pulls of another {mib} MiB blob: {elapsed:.2f} s, "
        f"{20 * mib / elapsed:,.0f} MiB/s delivered, upstream GETs of that blob: {len(gets)}"
    )
    print(f"\nregd's peak RSS over the whole run: {int(peak.split()[1]) >> 10} MiB")
    direct_image, cold_image = statistics.median(direct_s), statistics.median(cold_s)
    warm_image = statistics.median(warm_s)
    print(
        f"\nskopeo copy of a {mib} MiB image (4 layers) to dir:, median of {image_runs}: "
        f"direct {direct_image:.2f} s, cold through regd {cold_image:.2f} s, "
        f"overhead {100 * (cold_image / direct_image - 1):+.0f}%; the same again, warm: "
        f"{warm_image:.2f} s"
    )


if __name__ == "__main__":
    main()

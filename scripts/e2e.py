"""`make e2e`: the end-to-end suite against `docker compose up` when Docker runs, else locally.

Against Compose, the suite talks to the published gateway (`E2E_BASE_URL`); against the local
stack, its fixtures start every service as a process. Either way it says which it used.
"""

from __future__ import annotations

import os
import subprocess
import sys

from scripts.stack.processes import REPO_ROOT
from scripts.stack.servers import docker_reachable


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", "tests/e2e", *argv]
    if not docker_reachable():
        print("make e2e: no Docker engine here: running the e2e suite on a local stack", flush=True)
        return subprocess.call(pytest, cwd=REPO_ROOT)
    print("make e2e: Docker found: running the e2e suite against docker compose", flush=True)
    profile = [] if os.environ.get("MISTRAL_API_KEY") else ["--profile", "offline"]
    compose = ["docker", "compose", *profile]
    up = subprocess.call([*compose, "up", "-d", "--build", "--wait"], cwd=REPO_ROOT)
    if up != 0:
        return up
    try:
        env = {
            **os.environ,
            "E2E_BASE_URL": os.environ.get("E2E_BASE_URL", "http://localhost:8000"),
        }
        return subprocess.call(pytest, cwd=REPO_ROOT, env=env)
    finally:
        subprocess.call([*compose, "--profile", "offline", "down"], cwd=REPO_ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

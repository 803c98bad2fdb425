"""The benchmark, in one command: starts the sandbox and the server (in-memory store), loads it on
loopback and prints requests/s, p50 and p99 latency and peak RSS for each scenario, with a raw aiohttp
baseline doing the same reads without GraphQL and the ratio of the two.

    .venv/bin/python bench/run.py                 # 1 process, then 2 processes on one port
    .venv/bin/python bench/run.py --seconds 5 --workers 1

Load: wrk when installed (`apt-get install wrk`), else a bundled asyncio generator (which then, not
the server, may be the limit). The server is pinned to core 0 and the load to core 1 where the
machine has two cores; with two server processes both cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from server import settings as server_settings  # noqa: E402

from gql_api.auth import mint_dev_token  # noqa: E402

CONNECTIONS = "query Connections { calendarConnections { id provider profileName status calendar { name } } }"
MEETINGS = (
    "query Meetings { meetings(first: 20) { edges { node { id title start status "
    "participants { email calendarEvent { status } } } } pageInfo { hasNextPage } } }"
)
SCHEDULE = (
    "mutation Schedule($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) { "
    "meeting { id participants { calendarEvent { delivery status } } } userErrors { code } } }"
)
SCHEDULE_INPUT = {
    "input": {
        "title": "Bench",
        "start": "2027-03-01T10:00:00Z",
        "end": "2027-03-01T11:00:00Z",
        "timeZone": "Europe/London",
        "participants": [{"userId": "bench-partner", "email": "partner@example.test"}],
    }
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pinned(cores: str) -> list[str]:
    return ["taskset", "-c", cores] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(base: str, token: str, processes: list[subprocess.Popen]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(600):
            if any(p.poll() is not None for p in processes):
                raise SystemExit("the server exited during start-up")
            try:
                body = (
                    await http.post(
                        f"{base}/graphql", json={"query": CONNECTIONS}, headers={"Authorization": f"Bearer {token}"}
                    )
                ).json()
                if len(body.get("data", {}).get("calendarConnections") or []) == 3:
                    return
            except (httpx.TransportError, ValueError):
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become ready in 60 s")


def wrk(url: str, *, method: str, body: str | None, token: str, seconds: int, connections: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115 (wrk reads it later)
    script.write(
        f'wrk.method = "{method}"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n' + (f"wrk.body = {json.dumps(body)}\n" if body else "")
    )
    script.close()
    command = [*pinned("1"), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    os.unlink(script.name)

    def latency(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


async def python_load(url: str, *, method: str, body: str | None, token: str, seconds: int, connections: int) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:

        async def loop() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = await http.request(method, url, content=body, headers=headers)
                latencies.append((time.monotonic() - started) * 1000)
                errors += response.status_code >= 300

        await asyncio.gather(*[loop() for _ in range(connections)])
    cuts = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / seconds, "p50": cuts[49], "p99": cuts[98], "errors": errors}


async def measure(base: str, token: str, args: argparse.Namespace) -> list[tuple[str, dict]]:
    cases = [
        ("calendarConnections (3)", "POST", "/graphql", json.dumps({"query": CONNECTIONS}), args.seconds),
        ("  baseline, no GraphQL", "GET", "/baseline/connections", None, args.seconds),
        ("meetings(first: 20) of 200", "POST", "/graphql", json.dumps({"query": MEETINGS}), args.seconds),
        ("  baseline, no GraphQL", "GET", "/baseline/meetings", None, args.seconds),
        (
            "scheduleMeeting, 2 linked",
            "POST",
            "/graphql",
            json.dumps({"query": SCHEDULE, "variables": SCHEDULE_INPUT}),
            max(2, args.seconds // 2),
        ),
    ]
    results = []
    for name, method, path, body, seconds in cases:
        if shutil.which("wrk"):
            result = wrk(
                base + path, method=method, body=body, token=token, seconds=seconds, connections=args.connections
            )
        else:
            result = await python_load(
                base + path, method=method, body=body, token=token, seconds=seconds, connections=args.connections
            )
        results.append((name, result))
    return results


async def run(workers: int, args: argparse.Namespace) -> None:
    sandbox_port, port = free_port(), free_port()
    sandbox_url, base = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{port}"
    token = mint_dev_token(server_settings(port, sandbox_url), "bench-user")
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    sandbox = subprocess.Popen(
        [*pinned("1"), sys.executable, str(HERE / "sandbox.py"), "--port", str(sandbox_port)], env=env, cwd=HERE
    )
    cores = "0" if workers == 1 else "0,1"
    servers = [
        subprocess.Popen(
            [
                *pinned(cores),
                sys.executable,
                str(HERE / "server.py"),
                "--port",
                str(port),
                "--sandbox-url",
                sandbox_url,
            ],
            env=env,
            cwd=HERE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        await wait_ready(base, token, servers)
        await asyncio.sleep(1.0 * workers)  # every process seeds its own store; let the others finish
        results = await measure(base, token, args)
        rss = max(peak_rss_mib(p.pid) for p in servers)
    finally:
        for process in [*servers, sandbox]:
            process.send_signal(signal.SIGINT)
        for process in [*servers, sandbox]:
            process.wait(timeout=30)

    tool = "wrk" if shutil.which("wrk") else "bundled asyncio load generator"
    print(
        f"\n{workers} server process(es); load: {tool}, {args.connections} connections; "
        f"server on core(s) {cores if pinned(cores) else 'any'}, load on core {'1' if pinned('1') else 'any'}"
    )
    print(f"{'scenario':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, result in results:
        print(f"{name:30} {result['rps']:9.0f} {result['p50']:8.2f} {result['p99']:8.2f} {result['errors']:8d}")
    for graphql, baseline in ((0, 1), (2, 3)):
        ratio = results[graphql][1]["rps"] / results[baseline][1]["rps"]
        print(f"{results[graphql][0].strip()}: GraphQL / baseline = {ratio:.0%}")
    print(f"peak RSS of a server process: {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="load duration per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, choices=(1, 2), help="only this many server processes")
    args = parser.parse_args()
    for workers in [args.workers] if args.workers else [1, 2]:
        asyncio.run(run(workers, args))


if __name__ == "__main__":
    main()

"""Run the real `tenkepause run` process on a free loopback port, its output in a file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

TENKEPAUSE = Path(sys.executable).with_name("tenkepause")
STARTUP = 40.0
# Strong enough for `tenkepause run` (32 bytes and more), and unique to these tests.
SECRET_KEY = "security-tests-key-0123456789-abcdefghijklmnop"
PLATFORM_PREFIXES = ("TENKEPAUSE_", "SLACK_", "TELEGRAM_", "TEAMS_")


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(**values: str) -> dict[str, str]:
    """Return this process's environment without any Tenkepause or platform setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_PREFIXES)}
    return {**env, **values}


@dataclass
class Served:
    """A running `tenkepause run`."""

    url: str
    process: asyncio.subprocess.Process
    log: Path

    def rss_bytes(self) -> int:
        """Return the resident memory of the process now."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024

    def output(self) -> str:
        """Return everything the process has logged so far."""
        return self.log.read_text(errors="replace")


async def wait_until_serving(served: Served) -> None:
    """Poll /healthz until the server answers; fail if the process dies or takes too long."""
    deadline = asyncio.get_running_loop().time() + STARTUP
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if served.process.returncode is not None:
                tail = served.output()[-3000:]
                raise AssertionError(f"tenkepause run exited {served.process.returncode}:\n{tail}")
            try:
                if (await client.get(f"{served.url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # readiness polling, not waiting for a schedule
    raise AssertionError("tenkepause run did not start serving in time")


@asynccontextmanager
async def tenkepause_run(
    db_url: str, workdir: Path, settings: Mapping[str, str]
) -> AsyncIterator[Served]:
    """Start `tenkepause run` in `workdir` with `settings` (the key defaults to a strong one)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_environment(
        **{
            "TENKEPAUSE_SECRET_KEY": SECRET_KEY,
            **settings,
            "TENKEPAUSE_DATABASE_URL": db_url,
            "TENKEPAUSE_HTTP_HOST": "127.0.0.1",
            "TENKEPAUSE_HTTP_PORT": str(port),
            "TENKEPAUSE_PUBLIC_URL": url,
        }
    )
    log = workdir / "run.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(TENKEPAUSE), "run", cwd=workdir, env=env, stdout=output, stderr=output
        )
    served = Served(url, process, log)
    try:
        await wait_until_serving(served)
        yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()

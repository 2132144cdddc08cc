"""The links the demo and the link commands print reach the server when only the port is set.

With TENKEPAUSE_PUBLIC_URL unset, the public URL comes from TENKEPAUSE_HTTP_HOST and
TENKEPAUSE_HTTP_PORT; a link that named another port led to "connection refused".
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from bot.settings import Settings
from tests.security.served import TENKEPAUSE, clean_environment, free_port

LINK = re.compile(r"https?://\S+")


def test_the_public_url_is_derived_from_host_and_port_unless_it_is_set() -> None:
    assert Settings(_env_file=None).public_url == "http://127.0.0.1:8080"
    assert Settings(_env_file=None, TENKEPAUSE_HTTP_PORT=18181).public_url == (
        "http://127.0.0.1:18181"
    )
    every = Settings(_env_file=None, TENKEPAUSE_HTTP_HOST="0.0.0.0", TENKEPAUSE_HTTP_PORT=9)  # noqa: S104
    assert every.public_url == "http://127.0.0.1:9"
    assert Settings(_env_file=None, TENKEPAUSE_HTTP_HOST="::1").public_url == "http://[::1]:8080"
    named = Settings(
        _env_file=None, TENKEPAUSE_HTTP_PORT=9, TENKEPAUSE_PUBLIC_URL="https://tenke.example"
    )
    assert named.public_url == "https://tenke.example"


def _demo_links(process: subprocess.Popen[str], deadline: float) -> list[str]:
    """Read the demo's output until it has printed the leader's and the coach's links."""
    assert process.stdout is not None
    links: list[str] = []
    for line in process.stdout:
        if line.startswith(("Leader ", "Coach ")):
            links.append(LINK.search(line).group(0))  # type: ignore[union-attr]
        if line.startswith("Health: "):
            links.extend(LINK.findall(line))
            return links
        assert time.monotonic() < deadline, f"the demo printed no links in time: {links}"
    raise AssertionError(f"the demo stopped before printing its links: {links}")


def test_demo_chat_link_and_login_link_use_the_port_when_only_the_port_is_set(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    only_port = clean_environment(TENKEPAUSE_HTTP_PORT=str(port))
    demo = subprocess.Popen(
        [str(TENKEPAUSE), "demo"],
        cwd=tmp_path,
        env=only_port,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        leader, coach, health, metrics = _demo_links(demo, time.monotonic() + 120)
        for link in (leader, coach, health, metrics):
            assert link.startswith(base), link
        # The links lead somewhere: the server answers on them (a sign-in page, not a refusal).
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(health, timeout=5).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo never served on its own links"
                time.sleep(0.2)
        assert httpx.get(leader, timeout=10).status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()

    database = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'demo.db'}"
    env = {**only_port, "TENKEPAUSE_DATABASE_URL": database}
    leader_email = "ingrid.solberg-aune@trondheim.kommune.example"
    coach_email = "marit.odegaard.lie@trondheim.kommune.example"
    for command, email in (("chat-link", leader_email), ("login-link", coach_email)):
        done = subprocess.run(
            [str(TENKEPAUSE), command, email],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(base), (command, done.stdout)

"""Check the newcomer's tour: `make demo` prints its URLs, and the leader gets a prompt.

    python bench/demo_tour.py            # run `tenkepause demo` from this checkout's .venv
    python bench/demo_tour.py --clone    # git clone this repo to a temp dir, run `make demo`

Prints how long the demo took to print its links (target: 60 s), then opens the leader's
link like a browser would and polls the web chat until a prompt arrives (target: 90 s
from the start). Exits non-zero if either target is missed. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL_TARGET, PROMPT_TARGET = 60.0, 90.0


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_demo(clone: bool, folder: Path, port: int) -> subprocess.Popen[str]:
    """Start the demo in `folder` and return the process (its output is piped)."""
    env = {
        **os.environ,
        # Only the port: the demo derives its links' address from it.
        "TENKEPAUSE_HTTP_PORT": str(port),
    }
    if clone:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(folder / "repo")], check=True)
        command, cwd = ["make", "demo"], folder / "repo"
    else:
        command, cwd = [str(ROOT / ".venv" / "bin" / "tenkepause"), "demo"], folder
        # The demo reads examples/ from the package's checkout, so any folder works.
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_link(process: subprocess.Popen[str], deadline: float) -> str:
    """Read the demo's output until it prints the leader's chat link."""
    assert process.stdout is not None
    for line in process.stdout:
        if match := re.search(r"(http://127\.0\.0\.1:\d+/chat/login/\S+)", line):
            return match.group(1)
        if time.monotonic() > deadline:
            break
    raise SystemExit("the demo never printed a leader link")


def wait_for_prompt(link: str, port: int, deadline: float) -> float:
    """Open the link with a cookie jar and poll the chat until a prompt shows; return when."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    while time.monotonic() < deadline:
        try:
            with opener.open(link, timeout=5) as response:
                page = response.read().decode("utf-8")
            break
        except OSError:
            time.sleep(0.5)  # the server is still starting
    else:
        raise SystemExit("the demo never answered its link")
    # The link shows a sign-in button; pressing it (a POST) signs in, as in a browser.
    action = re.search(r'<form[^>]* method="post" action="([^"]+)"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if action is None or token is None:
        raise SystemExit("the leader link showed no sign-in button")
    form = urllib.parse.urlencode({"csrf_token": token.group(1)}).encode()
    opener.open(f"http://127.0.0.1:{port}{action.group(1)}", data=form, timeout=5).close()
    messages_url = f"http://127.0.0.1:{port}/chat/api/messages"
    while time.monotonic() < deadline:
        with opener.open(messages_url, timeout=5) as response:
            messages = json.load(response)["messages"]
        if any(m.get("tag") == "prompt" for m in messages):
            return time.monotonic()
        time.sleep(1)
    raise SystemExit("no prompt reached the demo leader in time")


def main() -> int:
    """Run the tour once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", action="store_true", help="run `make demo` in a fresh clone")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        process = start_demo(args.clone, Path(folder), port)
        try:
            link = wait_for_link(process, started + 600)
            linked = time.monotonic() - started
            prompted = wait_for_prompt(link, port, started + 600) - started
        finally:
            process.terminate()
            process.wait(timeout=20)
    links_ok, prompt_ok = linked <= URL_TARGET, prompted <= PROMPT_TARGET
    print(f"mode: {'make demo in a fresh clone' if args.clone else 'tenkepause demo'}")
    print(
        f"links printed after {linked:.1f} s (target {URL_TARGET:.0f} s): "
        f"{'PASS' if links_ok else 'FAIL'}"
    )
    print(
        f"prompt in the web chat after {prompted:.1f} s (target {PROMPT_TARGET:.0f} s): "
        f"{'PASS' if prompt_ok else 'FAIL'}"
    )
    return 0 if links_ok and prompt_ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""cuakhau processes for tests and benches: central and gate boxes (``python -m cuakhau ...``),
each with its output in a log file; a box's config file; ``python -m`` as a user runs it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testkit import ROOT, free_port, wait_for


def run_module(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` from the repository root, as a user runs it; output as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Proc:
    """A cuakhau subprocess with its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cuakhau", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Central(Proc):
    def __init__(self, workdir: Path, mqtt_port: int, protocol: int = 5) -> None:
        self.http_port = free_port()
        self.db = workdir / "central.db"
        self._tokens: dict[Any, str] = {}
        super().__init__(
            [
                "central",
                "serve",
                "--db",
                str(self.db),
                "--port",
                str(self.http_port),
                "--mqtt-port",
                str(mqtt_port),
                "--mqtt-protocol",
                str(protocol),
            ],
            workdir / "central.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        super().start()
        wait_for(self._ready, 30, "central to answer /health and connect to MQTT", 0.2)

    def _ready(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"central exited:\n{self.output()[-3000:]}")
        try:
            return bool(self.get("/health", role=None)["mqtt_connected"])
        except (urllib.error.URLError, ConnectionError, OSError, AssertionError):
            return False

    def token(self, role: str, tax_code: str | None = None, **options: Any) -> str:
        """An API token for ``role`` (made once per role and tax code, in central's database,
        as ``cuakhau central token create`` makes it)."""
        key = (role, tax_code, tuple(sorted(options.items())))
        if key not in self._tokens:
            from central.store import CentralStore

            store = CentralStore(self.db)
            try:
                self._tokens[key] = store.accounts.create_token(
                    f"test-{role}-{len(self._tokens)}-{secrets.token_hex(3)}",
                    role,
                    created_by="testkit",
                    tax_code=tax_code,
                    **options,
                )
            finally:
                store.close()
        return self._tokens[key]

    def add_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        language: str = "vi",
        tax_code: str | None = None,
    ) -> None:
        """A person's account in central's database, as ``cuakhau central user add`` makes it."""
        from central.store import CentralStore

        store = CentralStore(self.db)
        try:
            store.accounts.add_user(username, role, password, language=language, tax_code=tax_code)
        finally:
            store.close()

    def login(self, username: str, role: str, tax_code: str | None = None) -> dict[str, str]:
        """A person's session: makes the account (a random password) and logs in over HTTP;
        the headers to send (the session cookie and the CSRF token)."""
        from central.store import CentralStore

        password = secrets.token_urlsafe(16)
        store = CentralStore(self.db)
        try:
            store.accounts.add_user(username, role, password, tax_code=tax_code)
        finally:
            store.close()
        request = urllib.request.Request(
            self.url + "/api/login",
            data=json.dumps({"username": username, "password": password}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            me = json.loads(response.read())
            cookie = response.headers["Set-Cookie"].split(";")[0]
        return {"Cookie": cookie, "X-CSRF-Token": me["csrf_token"]}

    def get(self, path: str, role: str | None = "admin") -> Any:
        """GET as a caller in ``role`` (None: anonymous); the JSON body, raising on an error."""
        status, body = self.send("GET", path, None, role=role)
        if status >= 400:
            raise AssertionError(f"GET {path} as {role}: {status} {body}")
        return body

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        role: str | None = "customs",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """A request as a caller in ``role`` (or with ``token``; None: anonymous): status and
        the JSON body."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is None and role is not None:
            token = self.token(role)
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=sent,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                if "json" not in response.headers.get("Content-Type", "json"):
                    return response.status, raw.decode(errors="replace")
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except json.JSONDecodeError:
                return exc.code, raw.decode(errors="replace")

    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        """Put a declaration at central as the national platform has it (status and steps as
        given): the admin's import. Raises on an error."""
        status, answer = self.send("POST", "/api/declarations/import", body, role="admin")
        if status != 201:
            raise AssertionError(f"import of {body.get('number')}: {status} {answer}")
        return dict(answer)

    def stored_events(self, device: str) -> list[tuple[int, str]]:
        """(seq, id) of every event central stored for ``device``, read from its database."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return [
                (int(s), str(i))
                for s, i in conn.execute(
                    "SELECT seq, id FROM events WHERE device = ? ORDER BY seq", (device,)
                )
            ]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def acked(self, device: str) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute(
                "SELECT acked_seq FROM devices WHERE device = ?", (device,)
            ).fetchone()
        except sqlite3.OperationalError:
            row = None
        finally:
            conn.close()
        return int(row[0]) if row else 0


def agent_config(
    workdir: Path,
    device: str,
    mqtt_port: int,
    *,
    gate: str = "CKHN",
    protocol: int = 5,
    batch: int = 500,
    window: int = 5000,
    ack_timeout: float = 2.0,
    synthetic: str = "",
) -> Path:
    path = workdir / f"{device}.toml"
    path.write_text(
        f'device = "{device}"\ngate = "{gate}"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\nprotocol = {protocol}\nkeepalive = 5\n'
        f"[sync]\nbatch_max_events = {batch}\nwindow_events = {window}\n"
        f"ack_timeout_s = {ack_timeout}\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n"
        f'[store]\npath = "{device}.db"\n{synthetic}',
        encoding="utf-8",
    )
    return path


class Agent(Proc):
    def __init__(self, workdir: Path, config: Path) -> None:
        super().__init__(["agent", "run", "--config", str(config)], workdir / f"{config.stem}.log")
        self.config = config

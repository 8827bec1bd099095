"""``cuakhau provision enrol``: from an unboxed gate box to one central knows.

Makes the box's Ed25519 key pair, presents the one-time enrolment token with the public key to
central (``POST /api/enrol``), and writes what central answers: ``box.toml`` (device id, gate,
broker over TLS, identity), the private key, the broker password and the deployment's CA
certificate, the secrets readable by their owner only (0600). Enrolling a box that already has
a ``box.toml`` is refused unless ``--force`` (which needs a new token).
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol.errors import UserError
from protocol.signing import new_key, public_text, save_private


class EnrolError(UserError, RuntimeError):
    pass


def _write(path: Path, text: str, private: bool = False) -> None:
    partial = path.with_name(f".{path.name}.new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(path)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except ValueError:
        raise EnrolError(f"{url} answered with something that is not central's JSON") from None
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", "")
        except ValueError:
            detail = ""
        raise EnrolError(f"central refused the enrolment ({exc.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise EnrolError(f"cannot reach central at {url}: {exc}") from None
    needed = ("device", "gate", "broker", "username", "password", "central_key")
    if not isinstance(answer, dict) or any(k not in answer for k in needed):
        raise EnrolError(f"{url} answered without {', '.join(needed)}: is it cuakhau central?")
    return answer


def enrol(
    central: str,
    token: str,
    folder: str | Path,
    *,
    force: bool = False,
    insecure: bool = False,
    progress: Callable[[str], None] = print,
) -> Path:
    """Enrol this box; returns the path of the box config written."""
    folder = Path(folder)
    config = folder / "box.toml"
    if config.exists() and not force:
        raise EnrolError(
            f"{config} exists: this box is enrolled already; give --force (with a new token)"
            " to enrol it again"
        )
    if (folder / "box.db").exists():
        raise EnrolError(
            f"{folder / 'box.db'} holds the events of this box's earlier identity: let them"
            " drain to central, then move it away; a new identity starts a new store"
        )
    url = urllib.parse.urlsplit(central)
    if url.scheme != "https" and not insecure and url.hostname not in ("127.0.0.1", "localhost"):
        raise EnrolError(
            f"{central}: enrol over https (the token and central's key travel in this"
            " exchange); --insecure only on a network you trust"
        )
    lanes = ""
    if config.exists():  # keep the lanes the technician set up
        text = config.read_text(encoding="utf-8")
        if "[[lanes]]" in text:
            lanes = "\n" + text[text.index("[[lanes]]") :]
    folder.mkdir(parents=True, exist_ok=True)
    progress("1/3 making the box's key pair (Ed25519)")
    key = new_key()
    progress(f"2/3 enrolling with central at {central}")
    grant = _post(
        central.rstrip("/") + "/api/enrol",
        {"token": token, "public_key": public_text(key), "hostname": socket.gethostname()},
    )
    progress(f"3/3 writing {config} and the secrets beside it (enrolled as {grant['device']})")
    save_private(key, folder / "device.key")
    _write(folder / "mqtt-password", grant["password"] + "\n", private=True)
    broker = grant["broker"]
    tls_lines = ""
    if grant.get("ca_pem"):
        _write(folder / "ca.pem", grant["ca_pem"])
        tls_lines = f'tls = true\nca_file = "{folder / "ca.pem"}"\n'
    _write(
        config,
        f"# Written by cuakhau provision enrol; add this box's [[lanes]] below.\n"
        f'device = "{grant["device"]}"\n'
        f'gate = "{grant["gate"]}"\n\n'
        f"[mqtt]\n"
        f'host = "{broker["host"]}"\n'
        f"port = {int(broker['port'])}\n"
        f"protocol = 5\n"
        f"{tls_lines}"
        f'username = "{grant["username"]}"\n'
        f'password_file = "{folder / "mqtt-password"}"\n\n'
        f"[identity]\n"
        f'key_file = "{folder / "device.key"}"\n'
        f'central_key = "{grant["central_key"]}"\n\n'
        f"[store]\n"
        f'path = "{folder / "box.db"}"\n' + lanes,
    )
    return config


def add_commands(provision: Any) -> None:
    """``cuakhau provision enrol`` (``provision``: the ``provision`` subcommands)."""
    command = provision.add_parser("enrol", help="enrol this box with central")
    command.add_argument("--central", required=True, help="central's URL, e.g. https://central")
    command.add_argument("--token", required=True, help="the one-time enrolment token")
    command.add_argument("--dir", default="/etc/cuakhau", help="where to write (box.toml ...)")
    command.add_argument("--force", action="store_true", help="enrol again (a new token)")
    command.add_argument(
        "--insecure", action="store_true", help="allow central over plain http (not loopback)"
    )
    command.set_defaults(func=_enrol)


def _enrol(args: Any) -> int:
    config = enrol(args.central, args.token, args.dir, force=args.force, insecure=args.insecure)
    print(f"enrolled: {config}\nnext: add the lanes, then `cuakhau agent run --config {config}`")
    return 0

"""``cuakhau central user|token|enrolment|broker-setup``: accounts, boxes and the broker's
access, for operations.

They work on central's database directly (central may be running), so the first admin can be
made before anyone can log in. There is no default account and no default password: a password
is typed (twice) or read from a file; a token is printed once and never again.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from central.accounts import AccountError, Principal
from central.roles import ROLES
from protocol.errors import UserError

#: who the audit trail names for what is done from this command line
_CLI = Principal("cli", "admin", None, "session")


def add_commands(central: Any) -> None:
    """Add ``user`` and ``token`` to the ``cuakhau central`` subcommands."""
    user = central.add_parser("user", help="staff accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="a new account (asks for its password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--tax-code", help="an enterprise account's tax code")
    add.add_argument("--name", help="display name")
    add.add_argument("--language", choices=("vi", "en"), default="vi")
    _password_option(add)
    add.set_defaults(func=_user_add)
    passwd = user.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("username")
    _password_option(passwd)
    passwd.set_defaults(func=_user_passwd)
    disable = user.add_parser("disable", help="no more logins; open sessions end")
    disable.add_argument("username")
    disable.set_defaults(func=_user_disable)
    listing = user.add_parser("list", help="accounts as JSON lines")
    listing.set_defaults(func=_user_list)

    token = central.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="a new token, printed once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--tax-code", help="an enterprise token's tax code")
    create.add_argument("--expires-days", type=float, default=90)
    create.set_defaults(func=_token_create)
    revoke = token.add_parser("revoke", help="refuse the token from now on")
    revoke.add_argument("name")
    revoke.set_defaults(func=_token_revoke)
    tokens = token.add_parser("list", help="tokens as JSON lines (never the secrets)")
    tokens.set_defaults(func=_token_list)

    enrolment = central.add_parser("enrolment", help="enrolment tokens for gate boxes")
    enrolments = enrolment.add_subparsers(dest="enrolment_command", required=True)
    new = enrolments.add_parser("create", help="a one-time token a technician enrols a box with")
    new.add_argument("--gate", required=True, help="gate code, e.g. CKHN")
    new.add_argument("--checkpoint", action="append", required=True, help="e.g. barrier-in")
    new.add_argument("--expires-hours", type=float, default=24)
    new.set_defaults(func=_enrolment_create)

    setup = central.add_parser(
        "broker-setup", help="the broker's TLS, password and ACL files (Mosquitto)"
    )
    setup.add_argument("--dir", required=True, help="where the broker's files go")
    setup.add_argument("--host", action="append", default=[], help="the broker's host names")
    setup.add_argument("--port", type=int, default=8883)
    setup.set_defaults(func=_broker_setup)

    for parser in (add, passwd, disable, listing, create, revoke, tokens, new, setup):
        parser.add_argument("--db", help="central's SQLite file (default cuakhau-central.db)")
        parser.add_argument("--config", help="central's TOML file (for its db)")


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file", help="read the password from this file (else it is asked for)"
    )


def _store(args: argparse.Namespace) -> Any:
    from central.config import CentralConfig, load_central_config
    from central.store import CentralStore

    config = load_central_config(args.config) if args.config else CentralConfig()
    path = Path(args.db or config.db)
    if not path.parent.is_dir():
        raise UserError(f"{path}: no folder {path.parent}; give --db (or --config) right")
    if not path.exists():
        print(f"creating central's database {path}", file=sys.stderr)
    return CentralStore(path)


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            return Path(args.password_file).read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{args.password_file}: cannot read the password ({exc})") from None
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the password on: give --password-file")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def _run(args: argparse.Namespace, action: str, obj: str, after: Any, work: Any) -> int:
    store = _store(args)
    try:
        with store.transaction():
            result = work(store.accounts)
            store.audit.record(_CLI, action, obj, after=after, client="command line")
    except AccountError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if result is not None:
        print(result)
    return 0


def _user_add(args: argparse.Namespace) -> int:
    password = _password(args)
    return _run(
        args,
        "user:add",
        f"user:{args.username}",
        {"role": args.role, "tax_code": args.tax_code},
        lambda accounts: (
            accounts.add_user(
                args.username,
                args.role,
                password,
                tax_code=args.tax_code,
                display_name=args.name,
                language=args.language,
            )
            and f"user {args.username} added ({args.role})"
        ),
    )


def _user_passwd(args: argparse.Namespace) -> int:
    password = _password(args)
    return _run(
        args,
        "user:passwd",
        f"user:{args.username}",
        None,
        lambda accounts: (
            accounts.set_password(args.username, password) or f"password of {args.username} changed"
        ),
    )


def _user_disable(args: argparse.Namespace) -> int:
    return _run(
        args,
        "user:disable",
        f"user:{args.username}",
        None,
        lambda accounts: accounts.disable(args.username) or f"user {args.username} disabled",
    )


def _list(args: argparse.Namespace, rows: Any) -> int:
    """Print ``rows(accounts)`` as JSON lines (never a secret: only hashes are kept)."""
    store = _store(args)
    try:
        for row in rows(store.accounts):
            print(json.dumps(row.__dict__, ensure_ascii=False))
    finally:
        store.close()
    return 0


def _user_list(args: argparse.Namespace) -> int:
    return _list(args, lambda accounts: accounts.users())


def _token_create(args: argparse.Namespace) -> int:
    return _run(
        args,
        "token:create",
        f"token:{args.name}",
        {"role": args.role, "tax_code": args.tax_code, "expires_days": args.expires_days},
        lambda accounts: accounts.create_token(
            args.name,
            args.role,
            created_by="cli",
            tax_code=args.tax_code,
            expires_days=args.expires_days,
        ),
    )


def _token_revoke(args: argparse.Namespace) -> int:
    return _run(
        args,
        "token:revoke",
        f"token:{args.name}",
        None,
        lambda accounts: accounts.revoke_token(args.name) or f"token {args.name} revoked",
    )


def _token_list(args: argparse.Namespace) -> int:
    return _list(args, lambda accounts: accounts.tokens())


def _enrolment_create(args: argparse.Namespace) -> int:
    from central.identities import EnrolmentError, IdentityStore

    store = _store(args)
    try:
        with store.transaction():
            token = IdentityStore(store.file).create_enrolment(
                args.gate, args.checkpoint, "cli", args.expires_hours
            )
            store.audit.record(
                _CLI,
                "enrolment:create",
                f"gate:{args.gate}",
                after={"checkpoints": args.checkpoint},
                client="command line",
            )
    except EnrolmentError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    print(token)
    return 0


def _broker_setup(args: argparse.Namespace) -> int:
    """Make the CA and the broker's certificate, central's broker password, and the password
    and ACL files; print the Mosquitto settings to include and central's settings to add."""
    import secrets

    from central.broker_access import BrokerAccess, ensure_tls, listener_config
    from central.identities import IdentityStore

    folder = Path(args.dir).resolve()
    ensure_tls(folder, args.host or ["localhost", "127.0.0.1"])
    password_file = folder / "central-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
        password_file.chmod(0o600)
    store = _store(args)
    try:
        access = BrokerAccess(
            folder, "cuakhau-central", password_file.read_text().strip(), pid_file=None
        )
        access.apply(IdentityStore(store.file).identities())
    finally:
        store.close()
    conf = folder / "mosquitto-cuakhau.conf"
    settings = listener_config(folder, args.port)
    conf.write_text(settings, encoding="utf-8")
    db = Path(args.db).resolve() if args.db else None
    hosts = args.host or ["127.0.0.1"]
    print(
        f"# broker files in {folder}. Add these lines to mosquitto.conf (they are also in"
        f" {conf}),\n# with Mosquitto's own pid_file and, as its user, read access to the"
        f" files:\n{settings}\n"
        "# central's config (central.toml), to complete (db, http_port, ...):\n"
        + (f'db = "{db}"\n' if db else "")
        + "require_enrolment = true\n"
        f'[mqtt]\nhost = "{hosts[0]}"\nport = {args.port}\ntls = true\n'
        f'ca_file = "{folder / "ca.pem"}"\nusername = "cuakhau-central"\n'
        f'password_file = "{password_file}"\n'
        f'[broker_access]\ndir = "{folder}"\n'
        'pid_file = "/run/mosquitto/mosquitto.pid"  # Mosquitto\'s pid_file\n'
        f'public_host = "{hosts[0]}"\npublic_port = {args.port}'
    )
    return 0

"""Who said it: Ed25519 keys, the box's signed event batches and hash chain, central's signed
messages down (acks, commands, declaration changes).

- Every event a box emits carries ``prev``: the SHA-256 of the previous event's encoding, so
  the events of a box form one chain from its first event on (``event_hash``).
- Every batch a box sends carries ``seal``: the box's Ed25519 signature over the batch's device
  and the SHA-256 of its event array exactly as sent (``batch_digest``). One signature per batch
  authenticates every event in it; the chain ties each event to the ones before it, so a
  crossing's evidence can be checked offline from the box's public key.
- Messages from central carry ``sig``: central's signature over the message's encoding with
  ``sig`` empty (``sign_message`` / ``verify_message``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

T = TypeVar("T", bound=msgspec.Struct)

_BATCH_DOMAIN = b"cuakhau/batch/v1\x00"
_MESSAGE_DOMAIN = b"cuakhau/message/v1\x00"
_encoder = msgspec.msgpack.Encoder()


class SignatureError(ValueError):
    """A signature that is missing, malformed or does not verify."""


def event_hash(encoded_event: bytes) -> bytes:
    return hashlib.sha256(encoded_event).digest()


def batch_digest(device: str, encoded_event_array: bytes) -> bytes:
    """What a batch's seal signs: the device and the exact bytes of its event array."""
    return hashlib.sha256(_BATCH_DOMAIN + device.encode() + b"\x00" + encoded_event_array).digest()


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A public key as base64 text (for configs and the API)."""
    return base64.b64encode(public_bytes(key)).decode()


def load_public(text_or_bytes: str | bytes) -> Ed25519PublicKey:
    try:
        raw = (
            base64.b64decode(text_or_bytes, validate=True)
            if isinstance(text_or_bytes, str)
            else text_or_bytes
        )
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"not an Ed25519 public key: {exc}") from None


def save_private(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write a private key (PEM, PKCS#8) readable by its owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(path, 0o600)


def load_private(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{path}: cannot read an Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_or_create_private(path: str | Path) -> Ed25519PrivateKey:
    if Path(path).exists():
        return load_private(path)
    key = new_key()
    save_private(key, path)
    return key


def seal(key: Ed25519PrivateKey, device: str, encoded_event_array: bytes) -> bytes:
    return key.sign(batch_digest(device, encoded_event_array))


def verify_seal(
    public: Ed25519PublicKey, device: str, encoded_event_array: bytes, signature: bytes | None
) -> None:
    if not signature:
        raise SignatureError(f"batch from {device} carries no seal")
    try:
        public.verify(signature, batch_digest(device, encoded_event_array))
    except InvalidSignature:
        raise SignatureError(f"batch seal does not verify for {device}") from None


def _message_bytes(message: msgspec.Struct) -> bytes:
    return _MESSAGE_DOMAIN + _encoder.encode(msgspec.structs.replace(message, sig=None))


def sign_message(key: Ed25519PrivateKey, message: T) -> T:
    """``message`` with its ``sig`` set (it must have a ``sig`` field)."""
    return msgspec.structs.replace(message, sig=key.sign(_message_bytes(message)))


def verify_message(public: Ed25519PublicKey, message: Any) -> None:
    signature = getattr(message, "sig", None)
    if not signature:
        raise SignatureError(f"unsigned {type(message).__name__}")
    try:
        public.verify(signature, _message_bytes(message))
    except InvalidSignature:
        raise SignatureError(f"{type(message).__name__} signature does not verify") from None

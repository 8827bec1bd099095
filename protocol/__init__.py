"""The wire protocol shared by gate boxes, central, provisioning and simulators."""

from protocol.codec import ProtocolError, decode, encode
from protocol.messages import VERSION

__all__ = ["VERSION", "ProtocolError", "decode", "encode"]

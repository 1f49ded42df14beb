"""The official protobuf runtime in its pure-Python implementation, as an oracle for KOS's codec.

Run with PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python (tests/test_protobuf_differential.py does). Reads one
JSON request on stdin, ``{"descriptor_set": path, "message": name, "encode": [dict, ...], "parse": [hex, ...]}``,
and writes ``{"encoded": [hex, ...], "parsed": [{"ok": bool, "clash": bool}, ...], "implementation": ...}``:
``encode`` builds each message from its field values (``json_format.ParseDict``-free: plain attribute and
``extend`` calls) and serializes it; ``parse`` says whether the bytes parse and whether a field number of the
schema arrived with another wire type (kept as an unknown field) at any depth.
"""

from __future__ import annotations

import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import api_implementation
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet


def message_class(path: str, name: str):
    files = descriptor_pb2.FileDescriptorSet.FromString(open(path, "rb").read()).file
    pool = descriptor_pool.DescriptorPool()
    for proto in files:  # protoc --include_imports lists dependencies first
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def fill(message, values: dict) -> None:
    for name, value in values.items():
        if value is None:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value:
                if isinstance(item, dict):
                    fill(target[key], item)
                else:
                    target[key] = item
        elif field.is_repeated:
            for item in value:
                if isinstance(item, dict):
                    fill(target.add(), item)
                else:
                    target.append(item)
        elif field.message_type is not None:
            target.SetInParent()
            fill(target, value)
        elif field.type == field.TYPE_BYTES:
            setattr(message, name, bytes.fromhex(value))
        else:
            setattr(message, name, value)


def clash(message) -> bool:
    numbers = message.DESCRIPTOR.fields_by_number
    if any(f.field_number in numbers for f in UnknownFieldSet(message)):
        return True
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            children = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        else:
            children = list(value) if field.is_repeated else [value]
        if any(clash(child) for child in children):
            return True
    return False


def main() -> None:
    request = json.load(sys.stdin)
    cls = message_class(request["descriptor_set"], request["message"])
    encoded = []
    for values in request.get("encode", []):
        message = cls()
        fill(message, values)
        encoded.append(message.SerializeToString(deterministic=True).hex())
    parsed = []
    for value in request.get("parse", []):
        try:
            message = cls.FromString(bytes.fromhex(value))
        except (DecodeError, UnicodeDecodeError):  # the pure-Python runtime's two ways of refusing bytes
            parsed.append({"ok": False, "clash": False})
            continue
        parsed.append({"ok": True, "clash": clash(message)})
    json.dump({"encoded": encoded, "parsed": parsed, "implementation": api_implementation.Type()}, sys.stdout)


if __name__ == "__main__":
    main()

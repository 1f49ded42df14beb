"""Message classes of the official Python protobuf runtime, from a ``FileDescriptorSet``: for code that reads or
writes KOS's records outside Spark (the audit, the benchmarks' reference side, tests). Spark's columns use the
functions in kosproto.functions, never these.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError

from kosproto.errors import ProtobufError

__all__ = ["find_message", "message_class"]


@functools.lru_cache(maxsize=32)
def _files(descriptor_set: bytes) -> tuple[Any, ...]:
    """The set's file descriptors, in the set's order, every dependency added to one pool first."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file
    except DecodeError:
        raise ProtobufError("the descriptor set does not parse as a google.protobuf.FileDescriptorSet "
                            "(make it with protoc --include_imports --descriptor_set_out=FILE)") from None
    protos = {f.name: f for f in files}
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str, chain: tuple[str, ...] = ()) -> None:
        if name in added:
            return
        if name not in protos:
            raise ProtobufError(f"the descriptor set lacks {name}, imported by {chain[-1] if chain else 'it'}: "
                                "build it with --include_imports")
        for dependency in protos[name].dependency:
            add(dependency, (*chain, name))
        pool.Add(protos[name])
        added.add(name)

    for f in files:
        add(f.name)
    return tuple(pool.FindFileByName(f.name) for f in files)


def find_message(descriptor_set: bytes, name: str) -> Descriptor:
    """The top-level message called ``name`` (full name, or simple name: the first such, as Spark does)."""
    for file in _files(descriptor_set):
        for message in file.message_types_by_name.values():
            if name in (message.full_name, message.name):
                return message
    raise ProtobufError(f"no message {name} in the descriptor set")


@functools.lru_cache(maxsize=64)
def message_class(descriptor_set: bytes, name: str) -> Any:
    """The official runtime's class of message ``name``, made once per process."""
    return message_factory.GetMessageClass(find_message(descriptor_set, name))

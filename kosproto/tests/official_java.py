"""The official Java protobuf runtime (protobuf-java, on the class path of the tests' JVM) as an oracle for KOS's
codec, reached through py4j: messages built from protobuf's text format (``TextFormat.merge`` into a
``DynamicMessage``) and serialized by the runtime; bytes parsed by it (``DynamicMessage.parseFrom``) and read back
field by field.

Text format rather than reflection setters: py4j hands a small Python int over as a Java Integer, which the
runtime's setters refuse for an int64 field, while the text parser reads every number as its field's type.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JavaRuntime", "text"]


class JavaRuntime:
    """One descriptor set's messages in protobuf-java."""

    def __init__(self, spark: Any, descriptor_set: bytes) -> None:
        self.jvm = spark.sparkContext._jvm
        self.gateway = spark.sparkContext._gateway
        protobuf = self.jvm.com.google.protobuf
        files = protobuf.DescriptorProtos.FileDescriptorSet.parseFrom(bytearray(descriptor_set)).getFileList()
        built: dict[str, Any] = {}
        protos = {f.getName(): f for f in files}

        def build(name: str) -> Any:
            if name not in built:
                proto = protos[name]
                dependencies = self.gateway.new_array(protobuf.Descriptors.FileDescriptor, proto.getDependencyCount())
                for i in range(proto.getDependencyCount()):
                    dependencies[i] = build(proto.getDependency(i))
                built[name] = protobuf.Descriptors.FileDescriptor.buildFrom(proto, dependencies)
            return built[name]

        self.files = [build(f.getName()) for f in files]

    def message(self, name: str) -> Any:
        package, _, simple = name.rpartition(".")
        for file in self.files:
            if file.getPackage() == package:
                found = file.findMessageTypeByName(simple)
                if found is not None:
                    return found
        raise KeyError(name)

    def encode(self, name: str, text_format: str) -> bytes:
        """The runtime's bytes of the message ``name`` given in protobuf's text format."""
        protobuf = self.jvm.com.google.protobuf
        builder = protobuf.DynamicMessage.newBuilder(self.message(name))
        protobuf.TextFormat.merge(text_format, builder)
        return bytes(builder.build().toByteArray())

    def parse(self, name: str, data: bytes, fields: bool = True) -> dict[str, Any]:
        """``{"ok": bool, "clash": bool, "fields": {...}}``: whether the runtime parses ``data``, whether a field
        number of the schema arrived with another wire type (the runtime keeps it as an unknown field) at any
        depth, and the fields it read (``read`` below; not read without ``fields``)."""
        protobuf = self.jvm.com.google.protobuf
        from py4j.protocol import Py4JJavaError

        try:
            parsed = protobuf.DynamicMessage.parseFrom(self.message(name), bytearray(data))
        except Py4JJavaError:
            return {"ok": False, "clash": False, "fields": None}
        return {"ok": True, "clash": clash(parsed), "fields": read(parsed) if fields else None}


def clash(message: Any) -> bool:
    descriptor = message.getDescriptorForType()
    known = {f.getNumber() for f in descriptor.getFields()}
    if any(int(n) in known for n in message.getUnknownFields().asMap().keySet()):
        return True
    for field, value in message.getAllFields().items():
        if field.getJavaType().name() != "MESSAGE":
            continue
        if field.isMapField():
            values = [entry.getField(entry.getDescriptorForType().findFieldByName("value")) for entry in value]
            children = [v for v in values if hasattr(v, "getDescriptorForType")]
        else:
            children = list(value) if field.isRepeated() else [value]
        if any(clash(child) for child in children):
            return True
    return False


def read(message: Any) -> dict[str, Any]:
    """The fields the runtime holds for ``message`` (those with a value: ``getAllFields``), as Python values: enums
    by name, bytes as bytes, messages as dicts, maps as dicts (entries in the order they came, the last of a key
    winning), repeated fields as lists."""
    found = {}
    for field, value in message.getAllFields().items():
        found[field.getName()] = _value(field, value)
    return found


def _value(field: Any, value: Any) -> Any:
    kind = field.getJavaType().name()
    if field.isMapField():
        entries = {}
        for entry in value:
            descriptor = entry.getDescriptorForType()
            key_field, value_field = descriptor.findFieldByName("key"), descriptor.findFieldByName("value")
            entries[_scalar(key_field, entry.getField(key_field))] = _scalar(value_field, entry.getField(value_field))
        return entries
    if field.isRepeated():
        return [_scalar(field, v) for v in value]
    return _scalar(field, value) if kind != "MESSAGE" else read(value)


def _scalar(field: Any, value: Any) -> Any:
    kind = field.getJavaType().name()
    if kind == "ENUM":
        return value.getName()
    if kind == "BYTE_STRING":
        return bytes(value.toByteArray())
    if kind == "MESSAGE":
        return read(value)
    return value


def text(value: Any) -> str:
    """A Python value as protobuf's text format writes a scalar: strings and bytes quoted with every byte that is not
    plain ASCII escaped in octal, floats exactly (repr), booleans lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes | bytearray):
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 39, 92) else f"\\{b:03o}" for b in value) + '"'
    return str(value)

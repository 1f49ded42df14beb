"""Protobuf for Spark DataFrames: ``from_protobuf`` / ``to_protobuf`` with the signature and schema of
``pyspark.sql.protobuf.functions``; Spark's connector when it is on the class path, KOS's otherwise.

    schema.py       protobuf types <-> Spark types, options, matching a struct to a message
    decode.py       bytes -> Arrow, column by column          encode.py   Arrow -> bytes
    descriptors.py  FileDescriptorSet -> message classes      functions.py  the public functions
"""

from jobs.protobuf.descriptors import ProtobufError
from jobs.protobuf.functions import check_encodable, from_protobuf, implementation, to_protobuf

__all__ = ["ProtobufError", "check_encodable", "from_protobuf", "implementation", "to_protobuf"]

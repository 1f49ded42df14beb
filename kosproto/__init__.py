"""KOS's protobuf functions: ``from_protobuf`` / ``to_protobuf`` with the signature, Spark schema and options of
``pyspark.sql.protobuf.functions``, running in the JVM; Spark's connector instead when it is on the class path.

    functions.py  the public functions (Python)       java/kos/protobuf/  the codec, as Spark UDFs (Java)
    jvm.py        reaching the Java side              descriptors.py      the official Python runtime's classes,
    errors.py     ProtobufError                                           for readers outside Spark
"""

from kosproto.errors import ProtobufError
from kosproto.functions import (
    check_encodable,
    from_protobuf,
    implementation,
    read_descriptor_set,
    spark_type,
    to_protobuf,
)

__all__ = ["ProtobufError", "check_encodable", "from_protobuf", "implementation", "read_descriptor_set", "spark_type",
           "to_protobuf"]

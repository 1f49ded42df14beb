"""kos/others.py: each reading of another program's message, held to the message as that program really
printed it (captured into tests/data/messages/ from Spark 4.2, kafka-python 3.0 and the JVM codec)."""

from __future__ import annotations

import pytest

from kos import others
from tests.support.submit import PROJECT

MESSAGES = PROJECT / "tests" / "data" / "messages"


def captured(name: str) -> str:
    return (MESSAGES / name).read_text()


def test_a_failed_task_is_named_by_its_own_error_not_by_the_batch_functions_traceback():
    assert others.query_failure(captured("spark-foreach-batch-task-failed.txt"), "cp") == (
        "a task failed: org.apache.kafka.common.errors.TimeoutException: Topic kos-alerts not present in metadata "
        "after 60000 ms.")
    assert others.query_failure("[STREAM_FAILED] something else\n  at x\n", "cp") == "[STREAM_FAILED] something else"


def test_a_checkpoint_with_a_gap_in_its_offset_log_is_one_line():
    # What Spark 4.2 said when a checkpoint written with Spark's default asynchronous progress tracking (a batch
    # logged a second) was restarted with --available-now.
    assert others.query_failure(captured("spark-offset-log-gap.txt"), "cp/transform") == (
        "its checkpoint cp/transform has no offsets for batch 11 (written by a query that logged only some batches, "
        "as KOS did before with --processing-time): run the job with --processing-time until it has run two "
        "micro-batches, then with any trigger")


def test_a_refusal_of_the_jvm_codec_is_its_own_message_without_sparks_wrapping():
    text = captured("spark-udf-protobuf-failfast.txt")
    expected = ("malformed kostest.AllTypes record: the bytes do not parse (wire type 7 does not exist) (mode "
                "FAILFAST; option mode=PERMISSIVE gives null instead)")
    assert others.raised_in(text) == expected
    assert others.query_failure(text, "cp") == expected


def test_a_kos_error_raised_in_python_is_found_by_its_class():
    text = "Traceback (most recent call last):\n  File \"x.py\", line 1\nstorage.database.DatabaseError: it broke\n"
    from storage.database import DatabaseError  # noqa: F401 - the class must be imported to be known

    assert others.raised_in(text) == "it broke"
    assert others.raised_in("ValueError: not ours\n") is None


@pytest.mark.parametrize(("logged", "says"), [
    (["Connection lost: [Error 58] SaslAuthenticationFailedError: Authentication failed"], "did not accept the SASL"),
    (["<KafkaConnection broker_version=(4, 1)>: Connection lost: KafkaConnectionError: socket disconnected"],
     "did not accept the SASL"),
    (["Abort (KafkaConnectionError: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert certificate unknown"],
     "refused this client's TLS certificate"),
    (["[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"],
     "is not trusted"),
    (["Handshake failed: [SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"],
     "is that a TLS listener"),
    (["Connect attempt returned error 111. Disconnecting."], "no Kafka broker answers"),
])
def test_connection_failures_become_one_sentence(logged, says):
    assert says in others.kafka_connection(["b:9094"], logged, sasl=True)


def test_a_dropped_connection_without_sasl_is_not_called_a_login_failure():
    logged = ["<KafkaConnection broker_version=(4, 1)>: Connection lost: KafkaConnectionError: socket disconnected"]
    assert others.kafka_connection(["b:9092"], logged, sasl=False).startswith("no Kafka broker answers at b:9092")

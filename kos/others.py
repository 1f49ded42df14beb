"""The one place KOS reads other programs' messages (Spark's, kafka-python's) to say in one sentence what went
wrong. Each reading is a pattern and the sentence KOS says instead; tests/unit/kos/test_others.py holds every one
to a message captured from the real program (tests/data/messages/). Where Spark names an error class
(``[KAFKA_DATA_LOSS...]``), the class is what is read.

    query_failure(text)        a streaming query's error (Spark's StreamingQueryException text)
    raised_in(text)            a KOS error raised inside Spark (a Python task, a batch function, the JVM codec)
    kafka_connection(...)      why kafka-python could not bootstrap, from what it logged
    kafka_topic(...)           why a topic could not be written to, likewise
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kos.errors import KosError

__all__ = ["JAVA_ERRORS", "kafka_connection", "kafka_topic", "query_failure", "raised_in"]

# KOS's own errors raised in the JVM (kosproto/java), as Spark shows them inside its own: the class, then the message.
JAVA_ERRORS = ("kos.protobuf.ProtobufException",)
# Spark's text after a message it wraps: ". SQLSTATE: 39000" and the like.
_SQLSTATE = re.compile(r"\.? SQLSTATE: \w+\s*$")


def _names(cls: type[KosError]) -> list[str]:
    found = [f"{cls.__module__}.{cls.__qualname__}"]
    for sub in cls.__subclasses__():
        found += _names(sub)
    return found


def raised_in(text: str) -> str | None:
    """The message of the last KOS error in ``text`` (``module.Class: message`` as a Python traceback or a Java
    stack trace prints it), or None. Python classes are known once imported, which those a process can raise are."""
    names = (*_names(KosError), *JAVA_ERRORS)
    for line in reversed([line.strip() for line in text.splitlines()]):
        for name in names:
            at = line.find(name + ": ")
            if at == 0 or (at > 0 and name in JAVA_ERRORS):
                return _SQLSTATE.sub("", line[at + len(name) + 2:]).strip()
    return None


# Spark's Kafka source: a checkpoint's offsets are gone from the topic (failOnDataLoss).
_DATA_LOSS = re.compile(r"\[KAFKA_DATA_LOSS|some data may have been lost", re.IGNORECASE)
# The offset log lacks the batch before its last one (a restart without asynchronous progress tracking needs both).
_OFFSET_LOG_GAP = re.compile(r"Previous batch (\d+) not found in offset log")
# The task that failed a job ("... most recent failure: Lost task 1.0 in stage 2.0 (TID 9) (localhost executor
# driver): <class>: <message>"): more useful than the query's own first line.
_TASK_FAILURE = re.compile(r"most recent failure: Lost task [^\n]*?\(TID \d+\) \([^)\n]*\): ([^\n]+)")


def query_failure(text: str, checkpoint: str) -> str:
    """One sentence for a streaming query's failure, from Spark's text; ``checkpoint`` is the query's folder."""
    if _DATA_LOSS.search(text):
        return (f"its checkpoint {checkpoint} holds Kafka offsets that the topic no longer has (the topic was "
                "deleted and made again, or the stack's state changed): move that folder away to read the topic from "
                "its beginning again (the sinks skip what they stored already)")
    gap = _OFFSET_LOG_GAP.search(text)
    if gap is not None:
        return (f"its checkpoint {checkpoint} has no offsets for batch {gap.group(1)} (written by a query that "
                "logged only some batches, as KOS did before with --processing-time): run the job with "
                "--processing-time until it has run two micro-batches, then with any trigger")
    found = raised_in(text)
    if found is not None:
        return found
    task = _TASK_FAILURE.search(text)
    if task is not None:
        return f"a task failed: {_SQLSTATE.sub('', task.group(1)).strip()}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def kafka_connection(servers: Sequence[str], messages: Sequence[str], sasl: bool = False) -> str:
    """One sentence for a failed bootstrap, from what kafka-python logged while trying."""
    where = ", ".join(servers)
    text = " ".join(messages)
    # A broker that negotiated API versions over TLS and then hung up during SASL refused the login;
    # kafka-python does not always read the refusal before the broker closes the connection.
    refused_login = sasl and "broker_version=(" in text and "socket disconnected" in text
    if "SaslAuthenticationFailed" in text or "Authentication failed" in text or refused_login:
        return (f"Kafka at {where} did not accept the SASL login: check kafka.sasl_username and the password "
                "(KOS_KAFKA_SASL_PASSWORD or kafka.sasl_password_file)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (f"the certificate of Kafka at {where} is not trusted: kafka.ssl_cafile must hold the CA that "
                "signed it (and the broker's name must match it)")
    if any(alert in text for alert in ("BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "CERTIFICATE_REQUIRED", "UNKNOWN_CA")):
        return (f"Kafka at {where} refused this client's TLS certificate: kafka.ssl_keystore must hold a key "
                "and certificate signed by a CA the broker trusts")
    if "Handshake failed" in text or "WRONG_VERSION_NUMBER" in text:
        return (f"the TLS handshake with Kafka at {where} failed: is that a TLS listener? check "
                "kafka.security_protocol and the port")
    return (f"no Kafka broker answers at {where}: start it (`kos stack start`) or set "
            "KOS_KAFKA_BOOTSTRAP_SERVERS")


def kafka_topic(topic: str, servers: Sequence[str], messages: Sequence[str]) -> str:
    """One sentence for a topic the producer could not find, from what kafka-python logged meanwhile."""
    where = ", ".join(servers)
    text = " ".join(messages)
    if "not authorized" in text:
        return f"Kafka at {where} does not let this client write to topic {topic}: check its ACLs"
    return (f"topic {topic} does not exist on Kafka at {where}: create it (`kos stack start` creates the configured "
            "topics) or check --topic / kafka.raw_topic")

"""One Kafka config, three clients: kafka-python settings, Spark options, and the failure sentences (pure)."""

from __future__ import annotations

import re

import pytest

from kos import config as kos_config
from kos.kafka_client import python_settings, spark_options


def load(tmp_path, **env: str) -> kos_config.Config:
    (tmp_path / "pw").write_text("s3cr\"et\\\n")
    return kos_config.load(environ={"KOS_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "pw"), **env})


def test_plaintext_needs_nothing_more(tmp_path):
    cfg = load(tmp_path, KOS_KAFKA_BOOTSTRAP_SERVERS="b1:9092,b2:9092")
    assert python_settings(cfg) == {"bootstrap_servers": ["b1:9092", "b2:9092"], "security_protocol": "PLAINTEXT"}
    assert spark_options(cfg) == {"kafka.bootstrap.servers": "b1:9092,b2:9092", "kafka.security.protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_both_clients_the_same_credentials(tmp_path):
    cfg = load(tmp_path, KOS_KAFKA_SECURITY_PROTOCOL="SASL_SSL", KOS_KAFKA_SSL_CAFILE="/etc/kos/ca.pem")
    assert python_settings(cfg) == {
        "bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "SASL_SSL", "ssl_cafile": "/etc/kos/ca.pem",
        "ssl_check_hostname": True, "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "kos",
        "sasl_plain_password": 's3cr"et\\'}
    assert spark_options(cfg) == {
        "kafka.bootstrap.servers": "127.0.0.1:9092", "kafka.security.protocol": "SASL_SSL",
        "kafka.ssl.truststore.type": "PEM", "kafka.ssl.truststore.location": "/etc/kos/ca.pem",
        "kafka.ssl.endpoint.identification.algorithm": "https", "kafka.sasl.mechanism": "SCRAM-SHA-512",
        # The password is quoted for the JAAS parser: a quote or backslash in it cannot end the value.
        "kafka.sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                                  'username="kos" password="s3cr\\"et\\\\";'}


def test_tls_client_certificate(tmp_path):
    cfg = load(tmp_path, KOS_KAFKA_SECURITY_PROTOCOL="SSL", KOS_KAFKA_SSL_KEYSTORE="/etc/kos/client.pem",
               KOS_KAFKA_SSL_KEY_PASSWORD="k")
    settings = python_settings(cfg)
    assert (settings["ssl_certfile"], settings["ssl_keyfile"], settings["ssl_password"]) == (
        "/etc/kos/client.pem", "/etc/kos/client.pem", "k")
    assert "sasl_mechanism" not in settings
    options = spark_options(cfg)
    assert (options["kafka.ssl.keystore.type"], options["kafka.ssl.keystore.location"],
            options["kafka.ssl.key.password"]) == ("PEM", "/etc/kos/client.pem", "k")


def test_unknown_protocol_is_rejected_by_name(tmp_path):
    expected = ("KOS_KAFKA_SECURITY_PROTOCOL (kafka.security_protocol) must be 'PLAINTEXT', 'SSL' or 'SASL_SSL', "
                "not 'SASL_PLAINTEXT'")
    with pytest.raises(kos_config.ConfigError, match=f"^{re.escape(expected)}$"):
        load(tmp_path, KOS_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT")


def test_a_missing_password_names_where_to_put_it(tmp_path):
    cfg = kos_config.load(environ={"KOS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                   "KOS_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "none")})
    with pytest.raises(kos_config.ConfigError, match=f"set KOS_KAFKA_SASL_PASSWORD or create {tmp_path / 'none'}"):
        python_settings(cfg)

"""KOS: OS process logs into answers. The ground every package stands on: the settings' schema (config.py,
schema.py), the event row (event.py), the raw records' headers, Kafka client settings, text shown safely,
errors, other programs' messages (others.py), the restart policy and the Prometheus exposition format."""

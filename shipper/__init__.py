"""The shipper: tails syslog files into Kafka without losing or duplicating a line."""

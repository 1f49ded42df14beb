"""The local stack: Kafka and MariaDB on loopback, state in the project's git-ignored `.kos/` folder."""

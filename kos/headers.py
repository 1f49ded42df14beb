"""The Kafka headers the shipper gives every raw record: its origin. Written by shipper/records.py, read by
jobs/parsing.py; the names live here, on the ground floor both may import."""

__all__ = ["CUT", "FILE", "OFFSET", "PATH", "SOURCE"]

SOURCE = "kos.source"  # the machine: [shipper] source_id or the host name
PATH = "kos.path"      # the watched path, its bytes as they are (file names need not be UTF-8)
FILE = "kos.file"      # the file's identity (shipper/identity.py)
OFFSET = "kos.offset"  # byte offset of the record's first line in that file
CUT = "kos.cut"        # bytes dropped from the record's last line, when it was cut

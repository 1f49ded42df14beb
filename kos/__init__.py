"""KOS: OS process logs into answers. Shared configuration and the local stack live here."""

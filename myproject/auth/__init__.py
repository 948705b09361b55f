"""Authentication: JWT login sessions with refresh rotation and durable revocation."""

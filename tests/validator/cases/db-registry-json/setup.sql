UPDATE checks SET last_ping_ms=1795690800000;

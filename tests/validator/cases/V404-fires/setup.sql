UPDATE checks SET status=1, status_since_ms=1794830400000, last_ping_ms=1795690800000 WHERE slug='a';
UPDATE checks SET status=1, status_since_ms=1793966400000, last_ping_ms=1795690800000 WHERE slug='b';
UPDATE checks SET last_ping_ms=1795690800000 WHERE slug='c';

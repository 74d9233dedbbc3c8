UPDATE checks SET created_ms=1795435200000;
UPDATE checks SET created_ms=1795694280000 WHERE slug='weather-pull';
UPDATE checks SET last_ping_ms=1795608000000 WHERE slug='backup';
INSERT INTO pings(check_id,created_ms,kind) SELECT id,1795608000000,0 FROM checks WHERE slug='backup';

UPDATE checks SET last_ping_ms=1795690800000, status=1, status_since_ms=1795608000000;
UPDATE checks SET status_since_ms=1794916800000 WHERE slug='mqtt-bridge';
UPDATE checks SET last_ping_ms=0, status=0, created_ms=1793880000000 WHERE slug='nas-snapshot';
INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES('sensor-pul',2016,1795089600000,1795694100000);
INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES('backup-postgress',3,1795435200000,1795608000000);

UPDATE checks SET last_ping_ms=1795690800000;
INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES('backup',3,1795608000000,1795622400000);

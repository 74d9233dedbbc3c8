UPDATE checks SET last_ping_ms=1795690800000;
INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES('weather-pul',12,1795608000000,1795687200000);
INSERT INTO orphans(slug,count,first_ms,last_ms) VALUES('zzz-test',1,1795435200000,1795435200000);

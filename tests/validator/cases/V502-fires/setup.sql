UPDATE checks SET created_ms=1795435200000;

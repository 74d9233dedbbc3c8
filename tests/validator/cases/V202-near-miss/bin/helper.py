from lib import health_run

with health_run("helper"):
    pass

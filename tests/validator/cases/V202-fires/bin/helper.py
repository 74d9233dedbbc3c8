from lib import health_run
health_run("helper")

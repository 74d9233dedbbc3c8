import subprocess
subprocess.run(["vigil", "ping", "py"])

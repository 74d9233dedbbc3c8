import os
os.system("vigil ping from-registry")

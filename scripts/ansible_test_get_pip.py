"""Offline stand-in for the get-pip script ansible-test downloads.

ansible-test bootstraps pip into each sanity venv with a script fetched from
ci-files.testing.ansible.com, which these machines cannot reach. This does the
same job with what is here: ensurepip's bundled wheel, then pip itself from the
configured package index at the version ansible-test asked for.
"""

import subprocess
import sys

# get-pip's own flags, not pip install flags
OWN_FLAGS = {"--no-setuptools", "--no-wheel"}

args = [a for a in sys.argv[1:] if a not in OWN_FLAGS]
subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=True)

#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root), with the
# uploaded zip unpacked in /autograder/source. The zip holds: setup.sh, run_autograder,
# exercise.toml (from `jacobians exercises new …`), and a copy of this project as jacobians-src/.
# run_autograder needs python3 (on the PATH) and /opt/jacobians/bin/jacobians.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
python3 -m venv /opt/jacobians
/opt/jacobians/bin/pip install --quiet /autograder/source/jacobians-src
# Fail the build, not every student's run, on an exercise file that cannot be used.
/opt/jacobians/bin/jacobians exercises solve /autograder/source/exercise.toml > /dev/null

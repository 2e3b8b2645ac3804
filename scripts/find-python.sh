#!/usr/bin/env bash
# Prints the path of a Python 3.12 interpreter: on PATH, or installed by pyenv.
set -u
check() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }
for candidate in "$(command -v python3.12 2>/dev/null)" "$(command -v python3 2>/dev/null)"; do
  [ -n "$candidate" ] && check "$candidate" && { echo "$candidate"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
    check "$candidate" && { echo "$candidate"; exit 0; }
  done
fi
echo "Python 3.12 not found: install it (e.g. 'pyenv install 3.12') and run make again." >&2
exit 1

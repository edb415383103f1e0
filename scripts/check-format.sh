#!/bin/bash
# Fails when a C source differs from what .clang-format asks for.
# Fix with: clang-format -i $(scripts/check-format.sh --list)
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find netlifecd netlifectl libvirt plugins include tests bench examples -name '*.[ch]' | sort)
if [[ ${1:-} == --list ]]; then echo "$files"; exit 0; fi
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "$(echo "$files" | wc -l) files formatted as .clang-format says"

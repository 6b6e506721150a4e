#!/usr/bin/env bash
# The commands behind rehearse.yml, kept here so test/integration/ci-example.test.ts runs exactly what the
# workflow runs. Copy it next to your workflow (and fix the path in rehearse.yml).
#
# Usage: rehearse-ci.sh <scenario-folder> [more `rehearse run` flags, e.g. --expect]
#
# Environment:
#   REHEARSE     how to invoke rehearse (default: npx rehearse)
#   REPORTS_DIR  where report folders go (default: reports); uploaded as the artifact
#   PR_NUMBER    when set, summary.md is commented on that pull request with `gh pr comment`
#                (gh reads GH_TOKEN; the workflow passes github.token)
#   GITHUB_STEP_SUMMARY  set by GitHub Actions; rehearse itself appends summary.md to it
#
# Exit code: rehearse's own — 0 passed (or, with --expect, failed exactly as the scenario expects),
# 1 the rehearsal failed, 2 it could not be carried out. A failed PR comment never changes it.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: rehearse-ci.sh <scenario-folder> [rehearse run flags…]" >&2
  exit 2
fi
scenario="$1"
shift
reports="${REPORTS_DIR:-reports}"
mkdir -p "$reports"
# Word splitting on purpose: REHEARSE may be a command with arguments ("node bin/rehearse.js").
# shellcheck disable=SC2086
${REHEARSE:-npx rehearse} run "$scenario" --out "$reports" "$@"
code=$?

# The newest run folder is this run's (with --project-to, the last scale's, which holds projection.md).
run_dir="$(ls -td "$reports"/*/ 2>/dev/null | head -n 1)"
run_dir="${run_dir%/}"
if [ -z "$run_dir" ] || [ ! -f "$run_dir/summary.md" ]; then
  echo "rehearse-ci: no summary.md under $reports (exit code $code)" >&2
  [ "$code" -eq 0 ] && code=2
  exit "$code"
fi

if [ -n "${PR_NUMBER:-}" ]; then
  # A pull request from a fork gets a read-only token: the comment fails, the gate must not.
  if ! gh pr comment "$PR_NUMBER" --body-file "$run_dir/summary.md"; then
    echo "rehearse-ci: warning: could not comment on PR #$PR_NUMBER (read-only token on a fork?)" >&2
  fi
fi
exit "$code"

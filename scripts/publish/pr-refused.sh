#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Say which setting to change when the remediation pull request could not be
# opened. With the job token, GitHub refuses unless the repository lets Actions
# create pull requests; with a pr-token secret, that token lacks access.
# Env: PR_TOKEN ("true" when the workflow was given a pr-token secret),
# BRANCH.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
checklist='docs/forking.md, section 4 "Settings checklist"'
if [ "${PR_TOKEN:-false}" = true ]; then
	die "remediation: the pull request for $BRANCH was not opened with the pr-token secret: the token needs contents: write and pull-requests: write on this repository ($checklist, \"Workflow permissions\")"
fi
die "remediation: the pull request for $BRANCH was not opened with the job token: when the log above says \"GitHub Actions is not permitted to create or approve pull requests\", tick Settings → Actions → General → Workflow permissions → \"Allow GitHub Actions to create and approve pull requests\", or pass a pr-token secret ($checklist, \"Workflow permissions\")"

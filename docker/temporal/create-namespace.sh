#!/bin/sh
# One-shot namespace job for the Compose stack (runs in temporalio/admin-tools, busybox sh).
# Waits until the Temporal frontend answers, then makes sure the namespace the workers and the
# gateway use exists, with the search attributes the gateway lists sessions by. Idempotent: an
# existing namespace is left as it is, and an attribute registered already is not added again.
#
# Reads TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE, TEMPORAL_NAMESPACE_RETENTION and
# TEMPORAL_SEARCH_ATTRIBUTES (space-separated `Name=Type`).
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
MAX_ATTEMPTS="${NAMESPACE_WAIT_ATTEMPTS:-60}"
SLEEP_SECONDS="${NAMESPACE_WAIT_SECONDS:-2}"

echo "waiting for the Temporal frontend at ${ADDRESS}"
attempt=1
until temporal operator cluster health --address "${ADDRESS}" >/dev/null 2>&1; do
  if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
    echo "Temporal at ${ADDRESS} was not healthy after ${MAX_ATTEMPTS} attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "${SLEEP_SECONDS}"
done

attempt=1
until temporal operator namespace describe --namespace "${NAMESPACE}" --address "${ADDRESS}" \
  >/dev/null 2>&1; do
  # Create (or find that a concurrent run created it), then describe again: done only once the
  # frontend can see the namespace, so the workers never start on a missing one.
  if temporal operator namespace create --namespace "${NAMESPACE}" --retention "${RETENTION}" \
    --address "${ADDRESS}"; then
    echo "namespace ${NAMESPACE} created (retention ${RETENTION})"
  fi
  if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
    echo "namespace ${NAMESPACE} could not be created on ${ADDRESS}" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "${SLEEP_SECONDS}"
done
echo "namespace ${NAMESPACE} is ready on ${ADDRESS}"

for pair in ${TEMPORAL_SEARCH_ATTRIBUTES:-}; do
  name="${pair%%=*}"
  type="${pair#*=}"
  attempt=1
  # Done once a visibility query that names the attribute is accepted: the gateway can then
  # start sessions with it and list them.
  until temporal workflow list --namespace "${NAMESPACE}" --address "${ADDRESS}" --limit 1 \
    --query "${name} IS NOT NULL" >/dev/null 2>&1; do
    if temporal operator search-attribute create --namespace "${NAMESPACE}" \
      --address "${ADDRESS}" --name "${name}" --type "${type}"; then
      echo "search attribute ${name} (${type}) added"
    fi
    if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
      echo "search attribute ${name} could not be added on ${ADDRESS}" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep "${SLEEP_SECONDS}"
  done
done
echo "search attributes ready: ${TEMPORAL_SEARCH_ATTRIBUTES:-none}"

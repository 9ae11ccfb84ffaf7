#!/bin/sh
# One-shot namespace job for the Compose stack (runs in temporalio/admin-tools, busybox sh).
# Waits until the Temporal frontend answers, then makes sure the namespace the workers and the
# gateway use exists. Idempotent: an existing namespace is left as it is.
#
# Reads TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE and TEMPORAL_NAMESPACE_RETENTION.
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

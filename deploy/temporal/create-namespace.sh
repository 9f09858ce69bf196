#!/bin/sh
# The namespace Retrofit's workers use, created once the server answers (docker-compose
# `temporal-namespace`, a one-shot service the workers wait for). Idempotent: an existing
# namespace is left as it is (its retention included).
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}"

until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
    echo "waiting for Temporal at $TEMPORAL_ADDRESS"
    sleep 2
done
if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    echo "namespace $NAMESPACE exists"
else
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
    echo "namespace $NAMESPACE created (retention $RETENTION)"
fi

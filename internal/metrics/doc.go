// Package metrics defines the worker's Prometheus collectors (all named
// nerstream_* with units in their names) and serves /metrics and /healthz.
package metrics

// Command healthprobe is a tiny HTTP health check for the nerstream
// container images.
//
// The runtime image is distroless (no shell, no curl), so Docker's
// HEALTHCHECK and the docker-compose healthcheck of the worker service cannot
// call curl. healthprobe fills that gap: it performs one GET against the
// worker's /healthz endpoint and exits 0 when the answer is 2xx, 1 otherwise.
//
// Usage:
//
//	healthprobe [URL]
//
// Without URL the address is derived from NERSTREAM_METRICS_ADDR (the
// worker's --metrics-addr, default ":9090"): an empty or wildcard host becomes
// 127.0.0.1, so ":9090" probes http://127.0.0.1:9090/healthz. Kubernetes does
// not need this binary; it uses httpGet probes on the same endpoint.
package main

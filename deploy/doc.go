// Package deploy holds the deployment artefacts of nerstream and the tests that
// check them; it contains no production code.
//
// The artefacts are the container images (Dockerfile, Dockerfile.cuda and their
// Dockerfile-specific .dockerignore files), the docker-compose stack at the
// repository root (../docker-compose.yml) with its Prometheus configuration
// (prometheus/), and the Kubernetes manifests under k8s/ (a kustomize base, a
// GPU overlay and a replay job). The tests parse every one of them with the
// parsers the real tools use — compose-go for the compose file, BuildKit's
// Dockerfile parser, the moby pattern matcher for .dockerignore, and
// sigs.k8s.io/yaml for the manifests — and assert the rules the deployment
// depends on: scalable workers, health checks and start-up ordering,
// non-root images with pinned bases, probes and graceful shutdown, autoscaling
// bounded by the partition count, and environment variable names that match
// the flags of `worker run` and `producer`.
//
// No Docker engine or Kubernetes cluster is needed: the tests are static.
// The healthprobe sub-directory is a small command shipped in the images.
package deploy

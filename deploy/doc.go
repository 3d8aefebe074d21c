// Package deploy holds Stacker's Kubernetes manifests, a kustomize base
// (kustomization.yaml and the files it lists), and the test that holds them
// and the Dockerfile to the code: it builds the base as kustomize would,
// decodes every object strictly into the Kubernetes API types, and checks
// the environment, ports, probes and shutdown budget against the gateway
// binary built with the Dockerfile's own command.
//
// It is a Go module of its own so that the Kubernetes and kustomize
// modules stay out of the gateway's go.mod; test.sh and .ci/run enter it.
package deploy

// Package demo holds in-process implementations of the eight Rails-style JSON
// services Stacker federates (patients, insurers, cases, staff, doctors,
// clinics, appointments, documents) and the deterministic data they serve.
//
// It exists so that `go run .`, the tests and the benchmarks talk to real HTTP
// upstreams that follow the upstream contract exactly, including its error
// shapes and limits. Of this module it imports only events, the bus it
// publishes on: it is the other side of the contract, and keeping it apart
// from the gateway means a gateway bug cannot hide by changing the services
// too.
//
// Files: model.go holds the wire types, seed.go the data, store.go the
// indexes, reads, writes and validation, rowjson.go the per-row JSON cache
// the services answer from, services.go the servers and the per-service
// middleware (counting, latency, request ids), handlers.go the routing and
// the endpoints.
package demo

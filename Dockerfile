# Stacker's image: one static binary on a base with no shell, run as a
# non-root user, writing nothing outside /tmp (the Kubernetes manifests in
# deploy/ mount /tmp and make the root filesystem read-only).
#
#   docker build -t stacker .
#   docker run --rm -p 8080:8080 stacker        # embedded demo services
#
# deploy/ checks this file against the code (Go version, CGO_ENABLED=0,
# listen address, user). No image was built from it on the machines where
# Stacker is developed: they have no container daemon (docs/operating.md).

# The Go of go.mod's go line.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so a source change reuses the downloaded ones.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: a static binary that needs no C library in the image.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/stacker .

# distroless's static base: CA certificates (for the identity provider and
# https services), time zones, /tmp and a nonroot user (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stacker /stacker
USER 65532:65532
# Stacker's own default (127.0.0.1:8080) would be unreachable from outside
# the container.
ENV STACKER_ADDR=0.0.0.0:8080
EXPOSE 8080
# No HEALTHCHECK: the base has no client to run one, and Kubernetes ignores
# it in favour of the probes on /healthz and /readyz.
ENTRYPOINT ["/stacker"]
CMD ["serve"]

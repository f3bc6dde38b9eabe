# syntax=docker/dockerfile:1
# The tlsaudit image: one static (musl) binary on distroless/static, running as a non-root user.
#   docker build -t tlsaudit:dev .
#   docker run --rm tlsaudit:dev scan example.com:443         (the CLI)
#   the Helm chart runs `tlsaudit controller ...`              (the operator)
# The binary carries its own trust roots (webpki-roots) and needs no libc, shell or CA files at run time.

ARG RUST_IMAGE=rust:1.89-alpine
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${RUST_IMAGE} AS build
# aws-lc-rs (rustls' crypto provider) compiles C with the CC builder: gcc + musl-dev are all it needs
# (pre-generated bindings for x86_64 musl; no CMake, clang, Go or NASM). The musl target links
# statically by default.
RUN apk add --no-cache gcc musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin tlsaudit \
    && cp target/release/tlsaudit /tlsaudit

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="tlsaudit" \
      org.opencontainers.image.description="Kubernetes operator and CLI that audits TLS endpoints" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /tlsaudit /tlsaudit
# distroless' nonroot user; the chart's securityContext runs as the same uid with runAsNonRoot.
USER 65532:65532
# Fails the build when the binary is not static (this image has no libc) or does not start.
RUN ["/tlsaudit", "--help"]
ENTRYPOINT ["/tlsaudit"]

# syntax=docker/dockerfile:1
# kubelet-metrics: a static binary on a distroless base, running as a non-root user.
#   docker build -t kubelet-metrics .
#   docker run --rm kubelet-metrics --help
# The build stage compiles a fully static (musl) binary with the locked dependencies; the
# runtime image holds only that binary, CA certificates and a passwd entry for UID 65532.

ARG RUST_VERSION=1.89

FROM docker.io/library/rust:${RUST_VERSION}-alpine AS build
# musl-dev is whatever the base image's Alpine release ships: pinning its version would break the
# build at that release's next patch, and the base image is pinned by its Rust version.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY crates ./crates
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin kubelet-metrics \
    && install -D -m 0755 target/release/kubelet-metrics /out/kubelet-metrics

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/kubelet-metrics /usr/local/bin/kubelet-metrics
USER 65532:65532
EXPOSE 9153
ENTRYPOINT ["/usr/local/bin/kubelet-metrics"]
CMD ["serve", "--method", "direct"]

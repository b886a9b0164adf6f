# The fips-operator image: one binary for every role, nothing else.
#
#   docker build -t fips-operator:0.1.0 .                            # the FIPS build (README: the operator's FIPS build)
#   docker build --build-arg FLAVOR=plain -t fips-operator:dev .    # the plain build (development)
#
# The build step is the command the tests run (scripts/build-fips.sh), and the FIPS image
# refuses to finish unless its own binary scans as fips-capable on aws-lc-fips. The binary is
# not stripped: its symbols are part of that proof (a stripped one is judged not FIPS-capable).

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
ARG FLAVOR=fips
# aws-lc-fips-sys builds the AWS-LC FIPS module from source: cmake, Go and a C compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake golang-go clang ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN case "$FLAVOR" in \
      fips)  scripts/build-fips.sh && cp target/fips/fips-operator /fips-operator ;; \
      plain) cargo build --locked --release --bin fips-operator \
             && cp target/release/fips-operator /fips-operator ;; \
      *)     echo "FLAVOR must be fips or plain, not $FLAVOR" >&2; exit 2 ;; \
    esac \
 && /fips-operator --version \
 && if [ "$FLAVOR" = fips ]; then /fips-operator scan /fips-operator; fi
# The runtime needs of the binary: the C library it links (from ldd) and the CA bundle for
# registry TLS. Nothing else goes into the image.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp \
 && cp /fips-operator /rootfs/fips-operator \
 && for lib in $(ldd /fips-operator | awk '$2 == "=>" {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do \
      cp --parents -L "$lib" /rootfs; \
    done \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs/ /
# Non-root (the chart runs it as 65532 with a read-only root filesystem; /tmp is an emptyDir).
USER 65532:65532
ENTRYPOINT ["/fips-operator"]
CMD ["--help"]

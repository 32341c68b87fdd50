# lambda-pause: the Slack endpoint (`lambda-pause serve`) in a small non-root image.
#
#   docker build -t lambda-pause .
#   docker run --rm -p 3000:3000 \
#     -e SLACK_SIGNING_SECRET -e SLACK_BOT_TOKEN -e AWS_REGION \
#     -v lambda-pause-data:/data \
#     lambda-pause
#
# Secrets and AWS credentials come from the environment only (see CONTRACT.md); none are baked in.

# ---- build -----------------------------------------------------------------
# Debian bookworm on both sides, so the binary's glibc matches the runtime's.
# The slim Rust image already has gcc and libc6-dev, which is all `ring` (rustls'
# crypto) needs; there is no OpenSSL in the dependency tree, so nothing is installed.
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src

# 1. Dependencies only, cached until Cargo.toml or Cargo.lock change: build them
#    against stub sources for the library and binary targets Cargo.toml declares.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

# 2. The real source. COPY keeps the files' original mtimes, which can be older
#    than the stub build, so touch the crate roots to make Cargo rebuild the crate.
#    If the crate gains a build.rs, benches/examples declared in Cargo.toml, or
#    include_str!/include_bytes! of files outside src/ and migrations/, copy those here as well.
COPY src ./src
# sqlx::migrate!() embeds the SQL migrations at compile time; build.rs reruns the build when one is added.
COPY migrations ./migrations
COPY build.rs ./
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked

# The SQLite database's folder, owned by the runtime's nonroot user (65532);
# the runtime image has no shell to mkdir/chown it there.
RUN mkdir -p /data

# ---- run -------------------------------------------------------------------
# distroless/cc: glibc, libgcc, CA certificates (the binary uses the system's
# native CA roots for Slack and AWS), no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=builder /src/target/release/lambda-pause /usr/local/bin/lambda-pause

# `--db` / LAMBDA_PAUSE_DB defaults to sqlite://lambda-pause.db in the working
# directory, i.e. /data/lambda-pause.db here. Mount a volume at /data to keep the
# audit trail and pending requests across restarts (on Kubernetes, set
# securityContext.fsGroup: 65532 so the nonroot user can write to the volume).
COPY --from=builder --chown=65532:65532 /data /data
WORKDIR /data

ENV LAMBDA_PAUSE_LISTEN=0.0.0.0:3000
EXPOSE 3000

# No HEALTHCHECK: distroless has no shell or curl to run one. Orchestrators
# should probe `GET /healthz` (200 when the process can serve) on port 3000.

# nonroot:nonroot, written numerically so Kubernetes' runAsNonRoot can verify it
# without reading the image's /etc/passwd (it refuses to start a named USER).
USER 65532:65532
# Exec form: the binary is PID 1 and gets SIGTERM/SIGINT directly (it stops cleanly on both).
ENTRYPOINT ["/usr/local/bin/lambda-pause"]
CMD ["serve"]

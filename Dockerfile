# turnstile: multi-stage build.
#   docker build -t turnstile .
#   docker run -p 8080:8080 -e APP__AUTH__JWT_SECRET="$(cat jwt-secret)" \
#       -v turnstile-data:/app/data turnstile
# (jwt-secret made once with `openssl rand -base64 48` and kept: a new secret
# invalidates every access token.)
# No secret is baked into the image: APP_ENV=production refuses to start without
# APP__AUTH__JWT_SECRET (>= 32 bytes) in the environment.

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS builder

# libpq for Diesel's PostgreSQL backend; SQLite is bundled (compiled from source).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# 1. Dependencies only, against stub sources, so this layer is reused until
#    Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
# (benches/auth.rs is declared in Cargo.toml and must exist, even as a stub.)
RUN mkdir src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/auth.rs \
    && cargo build --release --locked \
    && rm -rf src

# 2. The crate itself. migrations/ (embed_migrations!) and config/default.toml
#    (include_str!) are read at compile time. touch: the copied files may be older
#    than the stub build, and cargo must see them as changed.
COPY migrations ./migrations
COPY config ./config
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && strip target/release/turnstile

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 turnstile \
    && useradd --system --uid 10001 --gid turnstile --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin turnstile

WORKDIR /app

COPY --from=builder /build/target/release/turnstile /usr/local/bin/turnstile
# config/{APP_ENV}.toml is read from ./config (APP_CONFIG_DIR overrides the folder).
COPY config ./config

# The SQLite database lives in the volume; its owner must be the runtime user
# (a new named volume takes this ownership from the image).
RUN mkdir -p /app/data && chown turnstile:turnstile /app/data

ENV APP_ENV=production \
    APP__SERVER__HOST=0.0.0.0 \
    APP__SERVER__PORT=8080 \
    APP__DATABASE__URL=sqlite:///app/data/turnstile.db

VOLUME /app/data
EXPOSE 8080

# The binary checks itself: `turnstile healthcheck` GETs /health on the configured
# port and exits 0 on 200 (liveness; /ready is the readiness probe and also checks
# the database). No curl or shell needed in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["turnstile", "healthcheck"]

USER turnstile
ENTRYPOINT ["turnstile"]
CMD ["serve"]

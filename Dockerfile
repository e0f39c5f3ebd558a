# syntax=docker/dockerfile:1
# herald's image: built the way `make build` builds it, run as a non-root user from a
# distroless base (no shell, no package manager; CA certificates and tzdata included).
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t herald .
#   docker run --rm -v $PWD/herald.yaml:/etc/herald/herald.yaml:ro \
#       -e TELEGRAM_BOT_TOKEN -e DATABASE_URL -p 127.0.0.1:8080:8080 herald
#
# The config must set http.listen to 0.0.0.0:8080 (as docker-compose.yml's does) for the
# published port to reach herald.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same build step as `make build`; CGO off so the binary runs on distroless/static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION}" -o /herald ./cmd/herald

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /herald /usr/local/bin/herald
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/herald"]
# Flags go before the subcommand: herald [flags] serve.
CMD ["--config", "/etc/herald/herald.yaml", "serve"]

# syntax=docker/dockerfile:1
# Multi-stage build: a static s3proxy binary on a minimal, non-root base image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/s3proxy ./cmd/s3proxy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/s3proxy /usr/local/bin/s3proxy
# Data (chunks, SQLite, generated credentials) lives in a volume owned by the
# distroless nonroot user (65532).
WORKDIR /data
USER 65532:65532
ENV S3PROXY_DATA=/data \
    S3PROXY_LISTEN=0.0.0.0:9000 \
    S3PROXY_ADMIN_LISTEN=0.0.0.0:9001
EXPOSE 9000 9001
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/s3proxy", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/s3proxy"]
CMD ["serve"]

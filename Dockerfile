# syntax=docker/dockerfile:1
# ha-webhook: a static binary on distroless, running as the non-root user 65532.
#   docker build -t ghcr.io/ha-webhook/ha-webhook:0.1.0 --build-arg VERSION=v0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=""
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ha-webhook ./cmd/webhook

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/ha-webhook /ha-webhook
USER 65532:65532
ENTRYPOINT ["/ha-webhook"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# wxclub: a static, cgo-free binary on a distroless base that runs as a
# non-root user and carries tzdata (the binary embeds it too, so merchants'
# time zones such as Asia/Shanghai work either way).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t wxclub .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/wxclub ./cmd/wxclub

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wxclub /usr/local/bin/wxclub
COPY config.yaml /etc/wxclub/config.yaml
USER nonroot:nonroot
WORKDIR /var/lib/wxclub
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/wxclub", "probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/wxclub"]
CMD ["serve", "-config", "/etc/wxclub/config.yaml"]

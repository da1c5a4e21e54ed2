# The container image: `docker build -t mywebrtc .`, then (host networking, because TURN
# relays on many UDP ports and must announce the host's address):
#
#   docker run --read-only --network host -v mywebrtc:/var/lib/mywebrtc \
#     -e MYWEBRTC_PUBLIC_URL=https://chat.example.org:8443 \
#     -e MYWEBRTC_TURN__RELAY_IP=203.0.113.10 mywebrtc
#
# It runs as an unprivileged user on a read-only root filesystem; everything it writes is in
# the volume at /var/lib/mywebrtc. The first-admin link is in `docker logs`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mywebrtc

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 mywebrtc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mywebrtc --no-create-home mywebrtc \
    && install -d -o mywebrtc -g mywebrtc -m 0700 /var/lib/mywebrtc
COPY --from=build /src/target/release/mywebrtc /usr/bin/mywebrtc
COPY packaging/container.toml /etc/mywebrtc/mywebrtc.toml
USER 10001:10001
VOLUME ["/var/lib/mywebrtc"]
EXPOSE 8443/tcp 3478/udp 3478/tcp 5349/tcp 7882/udp 7882/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/mywebrtc", "--config", "/etc/mywebrtc/mywebrtc.toml"]
CMD ["serve"]

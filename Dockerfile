# The one-file supervisord (scripts/build-binary) in an image of its own.
#   docker build -t supervisord-py .
# Use it as is (FROM scratch: nothing but the file, a /tmp and a config), or copy the file into any image:
#   COPY --from=supervisord-py /usr/local/bin/supervisord /usr/local/bin/supervisord

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv binutils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./scripts/build-binary \
 && mkdir -p /rootfs/usr/local/bin /rootfs/etc/supervisor.d /rootfs/tmp \
 && chmod 1777 /rootfs/tmp \
 && cp dist/supervisord /rootfs/usr/local/bin/supervisord \
 && cp examples/container.conf /rootfs/etc/supervisord.conf

FROM scratch
COPY --from=build /rootfs/ /
EXPOSE 9001
# The file unpacks itself under /tmp at start (a tmpfs is fine: `docker run --read-only --tmpfs /tmp`) and
# removes what it unpacked on exit. `docker stop` sends SIGTERM, which it passes on to the daemon.
ENTRYPOINT ["/usr/local/bin/supervisord"]
CMD ["-c", "/etc/supervisord.conf"]

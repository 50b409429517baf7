# syntax=docker/dockerfile:1
#
# otel-host-receiver container image: Node 20 on Debian bookworm slim, two stages (the build
# stage compiles TypeScript; the runtime stage holds only dist/src and production modules).
#
# Build:  docker build -t otel-host-receiver .
#
# Run (what every flag is for):
#   docker run -d --name otel-host-receiver \
#     --pid=host --network=host \
#     -v /proc:/host/proc:ro \
#     --user 0:0 --cap-drop=ALL --cap-add=SYS_PTRACE --cap-add=DAC_READ_SEARCH \
#     --read-only --security-opt=no-new-privileges \
#     -e OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318 \
#     otel-host-receiver
#
# -v /proc:/host/proc:ro + PROC_PREFIX=/host/proc (set below)
#     The daemon reads the host's process table and socket tables through the host's procfs,
#     read-only. It never writes to /proc.
# --network=host (required)
#     <procfs>/net/tcp, tcp6, udp, udp6 list the sockets of the *reader's* network namespace,
#     even through a mounted host /proc; and the probes connect to 127.0.0.1:<port>, which must
#     be the host's loopback. Without it the daemon sees and probes only its own container.
#     It also makes :9464 reachable on the host's addresses without -p.
# Containers on this host (ports of other network namespaces)
#     Found through the mounted host /proc: every container's processes and their
#     /proc/<pid>/net/ tables are there. --network=host lets the probes reach the containers'
#     bridge/veth addresses from the host; without it those ports fall back to socket state (alive
#     while the LISTEN socket exists). SYS_PTRACE ties container processes (other users) to their
#     sockets; without it their ports are left out. The container id comes from the world-readable
#     /proc/<pid>/cgroup: no extra mount or privilege.
# --pid=host (optional with the mount above)
#     Everything is read through PROC_PREFIX, so with the host /proc mounted at /host/proc
#     discovery and process metrics work without it. With --pid=host the container's own /proc
#     already is the host's: you may then drop the mount and set PROC_PREFIX=/proc. The
#     Kubernetes DaemonSet (deploy/kubernetes) uses both, as the seed deployment did.
# Capabilities
#     Listening ports are tied to processes through /proc/<pid>/fd/* and /proc/<pid>/exe, and
#     per-process figures come from /proc/<pid>/io, fd and limits. For processes of other users
#     the kernel asks for CAP_SYS_PTRACE (ptrace read access check) and CAP_DAC_READ_SEARCH
#     (the fd directory is mode 0500). Nothing else: no CAP_NET_RAW (probes are plain TCP
#     connects and HTTP requests), no CAP_SYS_ADMIN, no privileged mode.
#     Docker (and Kubernetes) give added capabilities to a non-root user only in the bounding
#     set, not the effective set (no ambient capabilities for non-root), so `--cap-add` alone
#     does nothing for USER 1000. Hence `--user 0:0 --cap-drop=ALL --cap-add=SYS_PTRACE
#     --cap-add=DAC_READ_SEARCH`: uid 0 holding only those two capabilities, with a read-only
#     root filesystem and no-new-privileges.
#     Without them (the image default, uid 1000) the daemon still runs: CPU, memory and thread
#     figures of every process are world-readable, but listening ports of other users'
#     processes cannot be tied to a process and are left out (counted in
#     otel_host_receiver_unowned_sockets / otel_host_receiver_unreadable_processes, alert
#     OtelHostReceiverUnprivileged, shown on the status page at :9464/), and their fd counts,
#     I/O and exe paths are unreadable.
#     A host /proc mounted with hidepid=2 hides other users' processes even from uid 0 unless
#     the container is in the gid= group of that mount.
# OTLP
#     The daemon pushes OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (default
#     http://localhost:4318, i.e. a Collector or Alloy on the host with --network=host) and
#     serves /metrics; OTEL_METRICS_EXPORTER=prometheus turns the push off,
#     OTEL_METRICS_EXPORTER=otlp the /metrics endpoint.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
# Only the daemon's sources: tsconfig also lists test/ and bench/, which are not copied, so
# the image holds no test code.
COPY src ./src
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="otel-host-receiver" \
      org.opencontainers.image.description="Listening ports and their processes, probed; per-process metrics; Prometheus /metrics and OTLP push" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
ENV PROC_PREFIX=/host/proc
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The image's `node` user; see "Capabilities" above for running with the two capabilities.
USER 1000:1000
# /metrics (Prometheus), /healthz, / (status page), /api/status
EXPOSE 9464
# node:20-slim has no curl or wget; Node 20's fetch does the job. Adjust the port if you
# change --web.listen-address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# --max-semi-space-size=1: a 2 MiB young generation instead of up to 32 MiB, and
# --heap-growing-percent=50: a full GC once the old generation is 1.5x the live data, not up
# to 4x; --expose-gc: the daemon runs a full GC after each process sample, and
# --compact-on-every-full-gc: each full GC also moves objects out of fragmented pages and
# returns those; the same flags as src/main.ts's first line; GLIBC_TUNABLES: two malloc arenas, and buffers of 32 KiB
# or more (family texts, OTLP requests) mapped on their own and returned when freed
# (README "Memory").
ENV GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=32768
ENTRYPOINT ["node", "--max-semi-space-size=1", "--heap-growing-percent=50", "--expose-gc", "--compact-on-every-full-gc", "/app/dist/src/main.js"]

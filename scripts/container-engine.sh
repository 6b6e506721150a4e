#!/usr/bin/env bash
# Sets up a container engine the container provider (target.provider: container, via testcontainers) can use
# on a Debian machine without Docker: podman serving the Docker API on a unix socket, and a PostgreSQL image
# built from Debian's packages, since no registry is reachable. Idempotent, and quick once set up (the image
# is kept in podman's storage and cached with `podman save`). Needs root.
#
#   eval "$(scripts/container-engine.sh --env)"   # set up, then export what testcontainers needs
#
# stdout gets only the export line (progress goes to stderr); --env leaves out the "ready" note as well.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET=/run/podman/podman.sock
IMAGE=localhost/rehearse-postgres:15
SUITE=bookworm
# Beside rehearse's seeded-cluster cache, which ignores this folder.
CACHE_DIR=${REHEARSE_CACHE_DIR:-$HOME/.cache/rehearse}/images
SERVICE_LOG=/var/log/rehearse-podman-service.log
ENTRYPOINT_SRC=scripts/container/postgres-entrypoint.sh

only_env=false
[ "${1:-}" = "--env" ] && only_env=true
# Only the export line goes to stdout (fd 3), so `eval "$(… --env)"` evaluates nothing else.
exec 3>&1 1>&2
say() { echo "== $*"; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (apt-get, /etc/containers, a rootful podman service)"
  exit 1
fi

# Two CI jobs on one machine must not build the image (or start the service) twice at once.
exec 9>/run/rehearse-container-engine.lock
flock 9

# --- packages ------------------------------------------------------------------------------------------------
# curl only asks the API socket whether it answers; minimal systems may lack it.
missing=()
for tool in podman runc debootstrap curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- engine configuration ---------------------------------------------------------------------------------------
# crun (podman's default runtime) fails on this host's hybrid cgroup v1/v2 layout, and without systemd the
# cgroup manager must be cgroupfs. podman's default ulimits (nofile/nproc) are rejected in this sandbox.
conf=$(
  cat <<'EOF'
# Written by rehearse's scripts/container-engine.sh.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
)
mkdir -p /etc/containers
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
  say "writing /etc/containers/containers.conf"
  printf '%s\n' "$conf" >/etc/containers/containers.conf
fi

# --- the Docker-compatible API ------------------------------------------------------------------------------------
ping() { curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; }
# A service whose working directory was deleted (started from a checkout since removed) still answers the
# ping but fails every container start ("write child: broken pipe"): replace it.
for pid in $(pgrep -f "podman system service" || true); do
  case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
    *" (deleted)")
      say "replacing podman system service $pid: its working directory was deleted"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      ;;
  esac
done
if ! ping; then
  say "starting podman system service on $SOCKET (log: $SERVICE_LOG)"
  mkdir -p "$(dirname "$SOCKET")"
  rm -f "$SOCKET"
  # --time=0: serve until killed (the default exits after 5 s idle). setsid: it outlives this script and CI step.
  # Closing 3 and 9: an inherited stdout would keep `$(… --env)` waiting, an inherited lock would block the next run.
  # env -C /: it must not hold (and depend on) the checkout it was started from. Not a ( cd / && … & )
  # subshell: that subshell stayed alive holding the lock on fd 9, and the next run waited on it forever.
  env -C / setsid nohup podman system service --time=0 "unix://$SOCKET" >>"$SERVICE_LOG" 2>&1 </dev/null 3>&- 9>&- &
  for _ in $(seq 1 100); do
    ping && break
    sleep 0.1
  done
  if ! ping; then
    say "podman system service did not answer on $SOCKET; last lines of $SERVICE_LOG:"
    tail -n 20 "$SERVICE_LOG" || true
    exit 1
  fi
fi

# --- the PostgreSQL image -----------------------------------------------------------------------------------------
# The recipe's hash labels the image and names its cache file: a changed entrypoint rebuilds it. Bump
# IMAGE_REVISION when changing how the image is built below.
IMAGE_REVISION=2
recipe=$( (echo "$IMAGE_REVISION $SUITE" && cat "$ENTRYPOINT_SRC") | sha256sum | cut -c1-16)
label() { podman image inspect --format '{{index .Config.Labels "rehearse.recipe"}}' "$IMAGE" 2>/dev/null || true; }
archive="$CACHE_DIR/rehearse-postgres-15-$recipe.tar"

# The Debian mirror apt already uses (deb822 .sources or a classic sources.list): the only one known to work.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # The first stanza whose Suites has the release itself (not -security / -updates).
    uri=$(awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
      tolower($1) == "uris:" { u = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
      END { if (u != "" && s) print u }' "$f" | head -n1)
    [ -n "$uri" ] && echo "$uri" && return
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # "deb [options] URI suite components": skip the bracketed options, if any.
    uri=$(awk -v suite="$SUITE" '$1 == "deb" { n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ } if ($(n + 1) == suite) { print $n; exit } }' "$f")
    [ -n "$uri" ] && echo "$uri" && return
  done
  echo "http://deb.debian.org/debian"
}

# An image of an older recipe is replaced, not left behind untagged.
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [ "$(label)" != "$recipe" ]; then
  if [ -f "$archive" ]; then
    say "loading $IMAGE from $archive"
    podman load -q -i "$archive" >/dev/null
  fi
fi
if [ "$(label)" != "$recipe" ]; then
  mirror=$(debian_mirror)
  say "building $IMAGE: debootstrap $SUITE with postgresql-15 from $mirror (about two minutes)"
  start=$(date +%s)
  root=$(mktemp -d /var/tmp/rehearse-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=postgresql-15 "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
    say "debootstrap failed; last lines of $root.log:"
    tail -n 20 "$root.log"
    exit 1
  }
  rm -f "$root.log"
  # Debian's package made a cluster of its own (main); the entrypoint initdbs its own in PGDATA, like the
  # official image. Caches, logs, documentation and translations only make the image bigger (C.UTF-8, the
  # locale initdb uses, lives in /usr/lib/locale and stays).
  rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15" "$root/var/cache/apt/archives/"*.deb \
    "$root/var/lib/apt/lists/"* "$root/var/log/"* "$root/usr/share/doc" "$root/usr/share/man" \
    "$root/usr/share/info" "$root/usr/share/locale"
  install -m 0755 "$ENTRYPOINT_SRC" "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$root/docker-entrypoint-initdb.d" "$root/var/lib/postgresql/data"
  tar -C "$root" -c . | podman import -q \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["postgres"]' \
    --change 'EXPOSE 5432' \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'STOPSIGNAL SIGINT' \
    --change "LABEL rehearse.recipe=$recipe" \
    - "$IMAGE" >/dev/null
  rm -rf "$root"
  trap - EXIT
  mkdir -p "$CACHE_DIR"
  rm -f "$CACHE_DIR"/rehearse-postgres-15-*.tar
  podman save -q -o "$archive" "$IMAGE"
  say "built $IMAGE in $(($(date +%s) - start)) s; cached in $archive"
fi

current=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi

$only_env || say "ready: $IMAGE on unix://$SOCKET. Export:"
# Ryuk (testcontainers' reaper) has no image here: rehearse removes its containers itself. Ports are mapped on
# the host's loopback.
echo "export DOCKER_HOST=unix://$SOCKET TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1" >&3

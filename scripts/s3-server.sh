#!/usr/bin/env bash
# A throw-away S3-compatible server for the tests and for development: Debian's radosgw (Ceph 16) on
# 127.0.0.1, backed by a one-monitor, one-OSD Ceph cluster that lives in one folder.
#
#   scripts/s3-server.sh start   start it (or, when it already runs and answers, do nothing) and print
#                                the settings; installs Debian's radosgw, ceph-mon and ceph-osd if missing
#   scripts/s3-server.sh env     print the settings of the running server:  eval "$(scripts/s3-server.sh env)"
#   scripts/s3-server.sh stop    stop it and delete its folder
#
# Settings (environment): EARSHOT_CEPH_DIR (default /tmp/earshot-ceph), EARSHOT_S3_PORT (radosgw, default
# 7480), EARSHOT_CEPH_MON_PORT (the monitor, default EARSHOT_S3_PORT + 1).
#
# Why the cluster is set up this way:
# - Why radosgw: it is a real S3 server from Debian's own packages (no download from elsewhere), the one
#   many self-hosted deployments run, and old enough (16.2) to catch SDK defaults that only new servers
#   accept.
# - One monitor and one OSD, pool size 1, CRUSH choosing among OSDs rather than hosts: the smallest cluster
#   that stores anything. No manager daemon: radosgw does not need one, and `ceph -s` then shows no pool
#   statistics, which nothing here reads.
# - `memstore` keeps objects in the OSD's memory: nothing to size on disk, and the data is meant to vanish.
#   (BlueStore would also work but wants its `bluestore block path` outside the OSD data folder.)
# - `auth none` everywhere inside the cluster: the daemons only talk to each other on 127.0.0.1. S3 clients
#   still authenticate: radosgw checks AWS signatures against the user made below (the tests check that a
#   wrong secret key is refused). With auth none, radosgw hangs for 300 s on "failed to fetch mon config"
#   when it asks the monitor for a `secure` connection, which needs keys; `ms mon client mode = crc secure`
#   makes it ask for `crc` first.
# - Small placement-group counts and a 64-thread radosgw keep it at about 110 MB of memory idle, plus the
#   objects it holds (memstore refuses writes past 1 GiB); it starts in about 15 s. A lock file (flock) makes
#   concurrent `start`s wait for each other, so only one cluster starts.
# - The access key, secret key and bucket are fixed test values: the server listens on 127.0.0.1 only and
#   holds nothing but test data.
#
# Checked against radosgw 16.2.15: it honours If-None-Match: * on PutObject (also between concurrent
# writers), Range, multipart upload and abort (ListMultipartUploads then shows nothing), presigned GETs with
# response-content-disposition/-type (and refuses them once expired or edited), and refuses a wrong secret
# key (403 SignatureDoesNotMatch). It does not: honour If-None-Match on CompleteMultipartUpload (the object
# is replaced), accept the SDK's default aws-chunked uploads with trailing checksums (411), or give an ETag
# the SDK can read in its CompleteMultipartUpload answer. src/storage/s3-blob-store.ts works around all three.
set -Eeuo pipefail

dir=${EARSHOT_CEPH_DIR:-/tmp/earshot-ceph}
port=${EARSHOT_S3_PORT:-7480}
mon_port=${EARSHOT_CEPH_MON_PORT:-$((port + 1))}
region=us-east-1
bucket=earshot-test
access_key=earshot-test-access-key
secret_key=earshot-test-secret-key-not-secret
endpoint="http://127.0.0.1:$port"
conf="$dir/ceph.conf"

log() { echo "s3-server: $*" >&2; }
die() {
  log "$*"
  exit 1
}
# A command that fails under `set -e` would otherwise end the script without a word.
trap 'log "failed at line $LINENO: $BASH_COMMAND (logs: $dir/log)"' ERR

settings() {
  cat <<EOF
export STORAGE_URL='s3://$bucket?endpoint=$endpoint&region=$region&force_path_style=true'
export AWS_ACCESS_KEY_ID='$access_key'
export AWS_SECRET_ACCESS_KEY='$secret_key'
EOF
}

# curl signs requests itself (SigV4); radosgw wants the payload hash header, which curl 7.88 leaves out.
s3curl() {
  curl -s --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# The daemons we started, by the pid files ceph.conf names; a pid counts only while its command line still
# names our ceph.conf, so a recycled pid is never taken for ours.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$conf"; }
our_pids() {
  local file
  for file in "$dir"/run/*.pid; do
    if [ -f "$file" ] && ours "$(cat "$file")"; then cat "$file"; fi
  done
}

healthy() {
  [ "$(our_pids | wc -l)" -eq 3 ] || return 1
  [ "$(s3curl -o /dev/null -w '%{http_code}' -I "$endpoint/$bucket" || true)" = 200 ]
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_cluster() {
  local pids pid left
  pids=$(our_pids)
  if [ -n "$pids" ]; then
    log "stopping pids $(echo $pids)"
    # KILL, not TERM: the cluster's data is thrown away. On TERM the OSD first writes its memstore out to
    # its folder, for seconds after its pid file and command line are gone, and wrote an old cluster into
    # the next one's folder ("wrong fsid": the new OSD then refused to start).
    kill -KILL $pids 2>/dev/null || true
    # Wait until each pid is gone or a zombie: a new cluster must not meet the old one's sockets.
    for _ in $(seq 1 50); do
      left=
      for pid in $pids; do
        if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then left+=" $pid"; fi
      done
      if [ -z "$left" ]; then break; fi
      sleep 0.2
    done
  fi
  rm -rf "$dir"
}

install_packages() {
  local need=()
  for tool in radosgw ceph-mon ceph-osd; do command -v "$tool" >/dev/null || need+=("$tool"); done
  command -v curl >/dev/null || need+=(curl)
  if [ ${#need[@]} -eq 0 ]; then return; fi
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

write_conf() {
  cat >"$conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# A nearly full developer disk must not stop the monitor (it holds a few MB here).
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw thread pool size = 64
EOF
}

# Runs a daemon in the background, its output in the log folder, never on the caller's stdout (npm test
# and CI read that and would wait for it to close).
daemon() { "$@" -c "$conf" </dev/null >>"$dir/log/daemons.out" 2>&1 9>&-; }

start_cluster() {
  local started=$SECONDS osd_uuid code
  rm -rf "$dir"
  mkdir -p "$dir"/{mon,osd,rgw,run,log}
  write_conf

  monmaptool --create --addv a "v1:127.0.0.1:$mon_port" --fsid "$(sed -n 's/^fsid = //p' "$conf")" \
    "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >>"$dir/log/daemons.out" 2>&1
  daemon ceph-mon -i a

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  # The monitor may take a moment before it serves commands; `osd new` with the same uuid is idempotent.
  for _ in $(seq 1 30); do
    if timeout 30 ceph -c "$conf" --connect-timeout 10 osd new "$osd_uuid" >/dev/null 2>>"$dir/log/daemons.out"; then
      break
    fi
    sleep 1
  done
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/daemons.out" 2>&1
  daemon ceph-osd -i 0

  daemon radosgw -n client.rgw
  # radosgw answers once it has created its pools, which needs the OSD up.
  for _ in $(seq 1 240); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/" || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || die "radosgw did not answer on $endpoint; logs: $dir/log"

  radosgw-admin -c "$conf" user create --uid=earshot-test --display-name=earshot-test \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null 2>>"$dir/log/daemons.out"
  code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$endpoint/$bucket" || true)
  [ "$code" = 200 ] || die "creating bucket $bucket answered $code; logs: $dir/log"
  healthy || die "radosgw started but the bucket does not answer; logs: $dir/log"
  log "radosgw on $endpoint, cluster in $dir ($((SECONDS - started)) s)"
}

command=${1:-}
case "$command" in
start)
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  if healthy; then
    log "already running on $endpoint"
  else
    # Whatever is left of an earlier cluster (a crashed daemon, a rebooted machine) is thrown away.
    stop_cluster
    for p in "$port" "$mon_port"; do
      if port_taken "$p"; then die "port $p is taken by another program: set EARSHOT_S3_PORT (and EARSHOT_CEPH_MON_PORT)"; fi
    done
    install_packages
    # A fresh cluster now and then fails to come up on a busy machine: its logs are kept aside, and a
    # second fresh one is started. (In a child process, so `set -e` still stops it at the first failure.)
    if ! bash "$0" start-cluster; then
      rm -rf "$dir-failed-log" && cp -r "$dir/log" "$dir-failed-log" 2>/dev/null || true
      log "the cluster did not come up (its logs: $dir-failed-log); starting a fresh one"
      stop_cluster
      bash "$0" start-cluster || die "the cluster did not come up twice; logs: $dir/log and $dir-failed-log"
    fi
  fi
  settings
  ;;
start-cluster) # the second half of start, run by it
  start_cluster
  ;;
env)
  healthy || die "not running on $endpoint: scripts/s3-server.sh start"
  settings
  ;;
stop)
  mkdir -p "$(dirname "$dir")"
  exec 9>"$dir.lock"
  flock 9
  stop_cluster
  ;;
*)
  die "usage: $0 start|stop|env"
  ;;
esac

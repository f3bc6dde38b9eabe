#!/usr/bin/env bash
# A real one-node Kubernetes cluster on this machine, entirely inside a network namespace this script
# creates: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd (+ runc), kubelet,
# kube-proxy (iptables mode) and a Prometheus server (API only), with the CNI bridge, host-local,
# loopback and portmap plugins. Beside scripts/control-plane.sh, which has no nodes.
#
# Networks (RFC 2544 benchmarking range, which collides with nothing; all of it exists only inside the
# namespace, which has no default route and no link to the host):
#   198.18.1.1/32   the node's address (on the namespace's loopback device): apiserver, kubelet
#   198.18.0.0/24   Pods, on the bridge cni0 (gateway 198.18.0.1); Pods route only 198.18.0.0/15
#   198.19.0.0/24   Services (kube-proxy's iptables rules, inside the namespace); `kubernetes` is 198.19.0.1
#
# Every process runs inside that network namespace and inside one private mount namespace (mounts made
# there, such as volumes and overlay root filesystems, never propagate to the host), and in one cgroup
# subtree /tlsaudit-node-<id> of every cgroup v1 hierarchy: the kubelet's cgroupRoot, which also holds
# the daemons, containerd's shims and every container. `stop` kills everything in that subtree, so no
# process survives it, and with the last process the mount namespace and its mounts go too; then the
# network namespace (and the iptables rules that lived only in it) is deleted and the cgroups removed.
#
# Usage: scripts/node.sh start          start (or do nothing when healthy); waits until the node is Ready
#        scripts/node.sh stop           stop everything; checks that no process, mount, netns or cgroup is left
#        scripts/node.sh env            print shell exports: KUBECONFIG (valid inside the namespace),
#                                       NODE_EXEC (prefix that runs a command inside), PROMETHEUS_URL,
#                                       NODE_NETNS (the network namespace), NODE_STATE (the state dir)
#        scripts/node.sh status         print what runs; exit 0 when healthy
#        scripts/node.sh exec CMD...    run CMD inside the node's network and mount namespaces
#        scripts/node.sh images         print the imported images (NAME REF lines)
#
# State (certificates, etcd, containerd, kubelet, logs, pid files) lives in $TLSAUDIT_NODE_STATE, by
# default ${TMPDIR:-/tmp}/tlsaudit-node-<checkout>-<hash>. Needs root, Linux with cgroup v1 hierarchies
# under /sys/fs/cgroup (as on the CI machine; a cgroup v2-only host is refused for now), overlayfs, veth
# and bridges; Debian packages runc,
# containernetworking-plugins, iptables, musl-tools (see NODE_PACKAGES); the binaries come from
# `scripts/toolchain.sh kube etcd node` and the images from scripts/image.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
checkout_id() { printf '%s-%s' "$(basename "$ROOT")" "$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"; }
ID=$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)
STATE=${TLSAUDIT_NODE_STATE:-${TMPDIR:-/tmp}/tlsaudit-node-$(checkout_id)}
NETNS=tlsaudit-node-$ID
CGROUP=tlsaudit-node-$ID          # the cgroup subtree, in every hierarchy
NODE_NAME=tlsaudit-node
NODE_IP=198.18.1.1
POD_CIDR=198.18.0.0/24
POD_GATEWAY=198.18.0.1
POD_ROUTE=198.18.0.0/15
SERVICE_CIDR=198.19.0.0/24
SERVICE_IP=198.19.0.1
PROMETHEUS_ADDR=127.0.0.1:9090
TIMEOUT=${TLSAUDIT_NODE_TIMEOUT:-180}
NODE_PACKAGES="runc containernetworking-plugins iptables musl-tools"
CNI_BIN=${TLSAUDIT_CNI_BIN:-/usr/lib/cni}
DAEMONS="etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy prometheus"

die() { echo "node: FAILED: $*" >&2; exit 1; }
log() { echo "node: $*" >&2; }
tool() {
  local path; path=$(bash "$ROOT/scripts/toolchain.sh" path "$1")
  [ -x "$path" ] || die "$1 not found at $path (build it with: bash scripts/toolchain.sh kube etcd node)"
  echo "$path"
}

# --- namespaces and cgroups -----------------------------------------------------------------------------

holder_pid() { cat "$STATE/holder.pid" 2>/dev/null; }
holder_alive() {
  local pid; pid=$(holder_pid) || return 1
  [ -n "$pid" ] && [ -e "/proc/$pid" ] && [ -e "/run/netns/$NETNS" ] \
    && [ "$(readlink "/proc/$pid/ns/net")" = "net:[$(stat -L -c %i "/run/netns/$NETNS")]" ]
}
# Runs a command inside the node's network and mount namespaces.
inside() { nsenter --target "$(holder_pid)" --mount --net -- "$@"; }

hierarchies() {
  local d
  for d in /sys/fs/cgroup/*/; do
    d=${d%/}
    [ -e "$d/cgroup.procs" ] || continue
    case $(basename "$d") in unified) continue ;; esac   # cgroup v2 beside v1 (hybrid): not used here
    echo "$d"
  done
}

make_cgroups() {
  local h
  for h in $(hierarchies); do
    mkdir -p "$h/$CGROUP/daemons"
    if [ -e "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h/$CGROUP/cpuset.cpus"; cat "$h/cpuset.mems" >"$h/$CGROUP/cpuset.mems"
      cat "$h/cpuset.cpus" >"$h/$CGROUP/daemons/cpuset.cpus"; cat "$h/cpuset.mems" >"$h/$CGROUP/daemons/cpuset.mems"
    fi
  done
}

# Every pid in the subtree, in every hierarchy.
cgroup_pids() {
  local h
  for h in $(hierarchies); do
    if [ -d "$h/$CGROUP" ]; then find "$h/$CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -un
}

remove_cgroups() {
  local h
  for h in $(hierarchies); do
    [ -d "$h/$CGROUP" ] || continue
    find "$h/$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ ! -d "$h/$CGROUP" ] || log "could not remove cgroup $h/$CGROUP"
  done
}

# The holder keeps the network namespace's private mount namespace alive; every daemon joins both.
make_namespaces() {
  ip netns add "$NETNS"
  # shellcheck disable=SC2016,SC2046 # $$ belongs to the inner shell; one argument per cgroup directory
  setsid bash -c 'for h in "$@"; do echo $$ >"$h/cgroup.procs"; done; echo $$ >"$0"; exec nsenter --net=/run/netns/'"$NETNS"' unshare --mount --propagation slave sleep infinity' \
    "$STATE/holder.pid" $(for h in $(hierarchies); do echo "$h/$CGROUP/daemons"; done) \
    </dev/null >/dev/null 2>&1 9>&- &
  local _
  for _ in $(seq 100); do
    if [ -s "$STATE/holder.pid" ] && [ "$(readlink "/proc/$(holder_pid)/ns/mnt" 2>/dev/null)" != "$(readlink /proc/self/ns/mnt)" ]; then
      break
    fi
    sleep 0.05
  done
  holder_alive || die "the namespace holder did not start"
  inside ip link set lo up
  inside ip addr add "$NODE_IP/32" dev lo
  inside sysctl -qw net.ipv4.ip_forward=1
  # The private mount namespace gets its own /run pieces that daemons would otherwise share with the host.
  # (containerd's shims put their sockets in /run/containerd/s).
  mkdir -p /run/containerd
  inside mount -t tmpfs -o mode=755 tmpfs /run/containerd
}

# The kubelet sets these host-wide kernel tunables (it refuses to start with protectKernelDefaults when
# they differ): saved before the first start, restored by `stop`.
KERNEL_TUNABLES="vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes"
save_tunables() {
  [ -s "$STATE/kernel-tunables" ] && return 0
  local t other
  # Another checkout's node runs: its kubelet has changed them already, and that node restores them.
  other=$(find /sys/fs/cgroup/pids -maxdepth 1 -name 'tlsaudit-node-*' ! -name "$CGROUP" 2>/dev/null | head -n 1)
  if [ -n "$other" ]; then log "another node runs ($other): it restores the kernel tunables"; return 0; fi
  for t in $KERNEL_TUNABLES; do echo "$t $(cat "/proc/sys/$t")"; done >"$STATE/kernel-tunables.tmp"
  mv "$STATE/kernel-tunables.tmp" "$STATE/kernel-tunables"
}
restore_tunables() {
  local t v
  [ -s "$STATE/kernel-tunables" ] || return 0
  while read -r t v; do
    [ "$(cat "/proc/sys/$t")" = "$v" ] || echo "$v" >"/proc/sys/$t" || log "could not restore $t to $v"
  done <"$STATE/kernel-tunables"
  rm -f "$STATE/kernel-tunables"
}

# --- certificates ---------------------------------------------------------------------------------------

make_pki() {
  local pki=$STATE/pki
  if [ -s "$pki/ca.crt" ] && [ -s "$pki/kubelet-client.key" ] && openssl x509 -checkend 86400 -noout -in "$pki/ca.crt" >/dev/null 2>&1; then
    return 0
  fi
  log "generating certificates in $pki"
  rm -rf "$pki" && mkdir -p "$pki" && chmod 700 "$pki"
  ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  ec_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca.crt" -days 365 -subj "/CN=tlsaudit-node-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  sign() {
    ec_key "$pki/$1.key"
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -CAserial "$pki/ca.srl" -days 365 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
    rm -f "$pki/$1.csr" "$pki/$1.ext"
  }
  sign apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=tlsaudit-admin" "extendedKeyUsage=clientAuth"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth"
  sign kubelet "/CN=$NODE_NAME" "extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  ec_key "$pki/sa.key"
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  [ -s "$pki/kubelet.crt" ] && [ -s "$pki/sa.pub" ] || die "openssl did not produce the certificates in $pki"
}

# kubeconfig NAME CERT: a kubeconfig for https://127.0.0.1:6443 (inside the namespace).
kubeconfig() {
  local pki=$STATE/pki b64="base64 -w0"
  cat >"$STATE/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tlsaudit-node
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 <"$pki/$2.crt")
    client-key-data: $($b64 <"$pki/$2.key")
contexts:
- name: tlsaudit-node
  context: {cluster: tlsaudit-node, user: $2, namespace: default}
current-context: tlsaudit-node
EOF
  chmod 600 "$STATE/$1.kubeconfig"
}

# --- configuration files --------------------------------------------------------------------------------

write_configs() {
  local cd=$STATE/containerd
  mkdir -p "$cd" "$STATE/cni/net.d" "$STATE/kubelet" "$STATE/prometheus/rules"
  cat >"$STATE/cni/net.d/10-tlsaudit.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "tlsaudit-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "$POD_ROUTE"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$cd/config.toml" <<EOF
version = 3
root = "$cd/root"
state = "$cd/state"

[grpc]
  address = "$cd/containerd.sock"

[ttrpc]
  address = "$cd/containerd.sock.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$(bash "$ROOT/scripts/image.sh" name pause)"

[plugins.'io.containerd.cri.v1.runtime']
  disable_apparmor = true
  # Containers get no oom_score_adj below containerd's own: lowering it needs CAP_SYS_RESOURCE, which
  # a container-based CI machine may not have (runc then fails with "can't get final child's PID").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$cd/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_BIN"]
    conf_dir = "$STATE/cni/net.d"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.internal.v1.opt']
  path = "$cd/opt"
EOF
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 only; kubelet 1.35+ refuses it unless told otherwise (deprecated, not gone).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
containerRuntimeEndpoint: unix://$cd/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $STATE/pki/kubelet.crt
tlsPrivateKeyFile: $STATE/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: AlwaysAllow}
# No DNS: Pods get an empty resolv.conf, so nothing resolves a name through the host's resolver.
resolvConf: ""
failSwapOn: false
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
# Host paths the kubelet would otherwise create and write.
volumePluginDir: $STATE/kubelet/volume-plugins
podLogsDir: $STATE/kubelet/pod-logs
EOF
  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $STATE/admin.kubeconfig}
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {masqueradeAll: true, syncPeriod: 5s, minSyncPeriod: 0s}
# A network namespace cannot set the host's conntrack table size.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cat >"$STATE/prometheus/prometheus.yml" <<EOF
# Scrapes every Pod that has a container port named "metrics" (the chart's operator Pods); loads the
# rule files that tests put into rules/ (POST /-/reload after a change).
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: ["$STATE/prometheus/rules/*.yaml"]
scrape_configs:
  - job_name: tlsaudit
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: $STATE/admin.kubeconfig
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: metrics
        action: keep
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace_of_pod
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
EOF
}

# --- processes ------------------------------------------------------------------------------------------

alive() {
  local pid state
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# launch NAME BINARY ARGS...: in its own session, in the daemons' cgroups, inside the namespaces.
launch() {
  local name=$1; shift
  rm -f "$STATE/$name.pid"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'for h in $1; do echo $$ >"$h/cgroup.procs"; done; echo $$ >"$0"; shift; exec "$@"' \
    "$STATE/$name.pid" "$(for h in $(hierarchies); do printf '%s ' "$h/$CGROUP/daemons"; done)" \
    nsenter --target "$(holder_pid)" --mount --net -- "$@" \
    </dev/null >"$STATE/$name.log" 2>&1 9>&- &
  local waited=0
  until [ -s "$STATE/$name.pid" ]; do
    sleep 0.05; waited=$((waited + 1))
    [ $waited -lt 100 ] || die "$name did not start (see $STATE/$name.log)"
  done
}

# wait_for NAME WHAT CMD...: polls CMD until it succeeds; dies when NAME exits or TIMEOUT passes.
wait_for() {
  local name=$1 what=$2 deadline=$((SECONDS + TIMEOUT)); shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$name" != - ] && ! alive "$name"; then
      tail -n 30 "$STATE/$name.log" >&2
      die "$name exited before $what (log: $STATE/$name.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      [ "$name" = - ] || tail -n 30 "$STATE/$name.log" >&2
      die "$what not reached after $TIMEOUT s (state in $STATE)"
    fi
    sleep 0.5
  done
}

kc() { inside "$(tool kubectl)" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }
healthz() { inside curl -fsS --max-time 3 "$@"; }
apiserver_ready() {
  inside curl -fsS --max-time 3 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
    --key "$STATE/pki/admin.key" https://127.0.0.1:6443/readyz
}
node_ready() {
  [ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespace, mounts, cgroups)"
  [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] \
    || die "this host has cgroup v2 only; node.sh handles cgroup v1 hierarchies so far"
  local cmd
  for cmd in ip nsenter unshare setsid openssl curl iptables runc musl-gcc python3; do
    command -v "$cmd" >/dev/null || die "$cmd is not installed (Debian: apt-get install $NODE_PACKAGES iproute2 util-linux openssl curl python3)"
  done
  [ -x "$CNI_BIN/bridge" ] && [ -x "$CNI_BIN/host-local" ] && [ -x "$CNI_BIN/loopback" ] && [ -x "$CNI_BIN/portmap" ] \
    || die "CNI plugins missing in $CNI_BIN (Debian: apt-get install containernetworking-plugins)"
  mkdir -p "$STATE"
  if healthy; then log "already running; KUBECONFIG=$STATE/admin.kubeconfig (inside: scripts/node.sh exec ...)"; return 0; fi
  teardown
  local t0=$SECONDS etcd apiserver cm sched kubelet proxy containerd ctr prometheus
  etcd=$(tool etcd); apiserver=$(tool kube-apiserver); cm=$(tool kube-controller-manager)
  sched=$(tool kube-scheduler); kubelet=$(tool kubelet); proxy=$(tool kube-proxy)
  containerd=$(tool containerd); ctr=$(tool ctr); prometheus=$(tool prometheus)
  tool kubectl >/dev/null; tool containerd-shim-runc-v2 >/dev/null

  log "building the images (scripts/image.sh)"
  bash "$ROOT/scripts/image.sh" build "$STATE/images"
  make_pki
  kubeconfig admin admin
  kubeconfig kubelet kubelet-client
  write_configs
  save_tunables
  make_cgroups
  make_namespaces
  local pki=$STATE/pki

  launch etcd "$etcd" --name node --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster node=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn \
    --listen-metrics-urls http://127.0.0.1:2381
  wait_for etcd "etcd /health" healthz http://127.0.0.1:2381/health

  launch kube-apiserver "$apiserver" --etcd-servers http://127.0.0.1:2379 \
    --bind-address 0.0.0.0 --advertise-address "$NODE_IP" --secure-port 6443 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true --profiling=false
  wait_for kube-apiserver "kube-apiserver /readyz" apiserver_ready

  launch kube-controller-manager "$cm" --kubeconfig "$STATE/admin.kubeconfig" \
    --authentication-kubeconfig "$STATE/admin.kubeconfig" --authorization-kubeconfig "$STATE/admin.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allocate-node-cidrs=false --profiling=false
  launch kube-scheduler "$sched" --kubeconfig "$STATE/admin.kubeconfig" \
    --authentication-kubeconfig "$STATE/admin.kubeconfig" --authorization-kubeconfig "$STATE/admin.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false

  # The shim and runc are found through PATH.
  launch containerd env "PATH=$(dirname "$containerd"):$PATH" "$containerd" --config "$STATE/containerd/config.toml"
  wait_for containerd "containerd's socket" inside "$ctr" --address "$STATE/containerd/containerd.sock" version
  local name ref archive
  while read -r name ref archive; do
    inside "$ctr" --address "$STATE/containerd/containerd.sock" -n k8s.io images import "$archive" >"$STATE/import-$name.log" 2>&1 \
      || { cat "$STATE/import-$name.log" >&2; die "ctr images import $archive"; }
    inside "$ctr" --address "$STATE/containerd/containerd.sock" -n k8s.io images ls -q >"$STATE/images/list" 2>/dev/null
    grep -qx "$ref" "$STATE/images/list" \
      || die "image $ref not found after the import of $archive"
  done <"$STATE/images/images"

  launch kubelet "$kubelet" --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet/root" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  launch kube-proxy "$proxy" --config "$STATE/kube-proxy.yaml"
  wait_for kubelet "node $NODE_NAME Ready" node_ready
  wait_for kube-proxy "kube-proxy /healthz" healthz http://127.0.0.1:10256/healthz
  wait_for kube-controller-manager "the default ServiceAccount" kc get serviceaccount default -n default
  wait_for kube-scheduler "kube-scheduler /readyz" healthz -k https://127.0.0.1:10259/readyz

  launch prometheus "$prometheus" --config.file "$STATE/prometheus/prometheus.yml" \
    --storage.tsdb.path "$STATE/prometheus/data" --web.listen-address "$PROMETHEUS_ADDR" \
    --web.enable-lifecycle --log.level warn
  wait_for prometheus "prometheus /-/ready" healthz "http://$PROMETHEUS_ADDR/-/ready"
  log "ready in $((SECONDS - t0)) s: node $NODE_NAME ($NODE_IP) in network namespace $NETNS, state $STATE"
}

healthy() {
  local name
  holder_alive || return 1
  for name in $DAEMONS; do alive "$name" || return 1; done
  apiserver_ready >/dev/null 2>&1 && node_ready 2>/dev/null
}

# Stops everything this script may have started, also after a failed start; idempotent.
teardown() {
  local name pid pids
  for name in kube-proxy kubelet prometheus kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do
    pid=$(cat "$STATE/$name.pid" 2>/dev/null) || continue
    alive "$name" && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; }
  done
  for _ in $(seq 50); do
    pids=""
    for name in $DAEMONS; do alive "$name" && pids="$pids $name"; done
    [ -z "$pids" ] && break
    sleep 0.1
  done
  # Whatever is left in the subtree (containers, shims, the holder, daemons that ignored SIGTERM).
  for _ in $(seq 100); do
    pids=$(cgroup_pids)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$(cgroup_pids)" ] || die "processes left in cgroup $CGROUP: $(cgroup_pids | tr '\n' ' ')"
  rm -f "$STATE"/*.pid
  if ip netns list | grep -qw "$NETNS"; then ip netns del "$NETNS"; fi
  remove_cgroups
  restore_tunables
  # Containers' and snapshots' files (the mounts over them died with the mount namespace).
  rm -rf "$STATE/etcd" "$STATE/containerd/root" "$STATE/containerd/state" "$STATE/containerd/runc" \
    "$STATE/kubelet/root" "$STATE/cni/ipam" "$STATE/prometheus/data"
}

stop() {
  [ -d "$STATE" ] || { log "not running (no $STATE)"; return 0; }
  teardown
  local left
  left=$(grep -F "$STATE" /proc/self/mountinfo || true)
  [ -z "$left" ] || die "mounts left: $left"
  ! ip netns list | grep -qw "$NETNS" || die "network namespace $NETNS left"
  log "stopped"
}

status() {
  local name rc=0
  for name in $DAEMONS; do
    if alive "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: not running"; rc=1; fi
  done
  if [ $rc = 0 ] && healthy; then
    echo "node $NODE_NAME Ready in network namespace $NETNS; KUBECONFIG=$STATE/admin.kubeconfig (inside it)"
  else
    echo "not ready (state $STATE)"; rc=1
  fi
  return $rc
}

env_cmd() {
  [ -s "$STATE/admin.kubeconfig" ] && holder_alive || die "no node in $STATE; run: scripts/node.sh start"
  printf 'export KUBECONFIG=%q\n' "$STATE/admin.kubeconfig"
  printf 'export NODE_EXEC=%q\n' "nsenter --target $(holder_pid) --mount --net --"
  printf 'export PROMETHEUS_URL=%q\n' "http://$PROMETHEUS_ADDR"
  printf 'export NODE_NETNS=%q NODE_STATE=%q\n' "$NETNS" "$STATE"
}

with_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock -w 600 9 || die "another node.sh holds $STATE/lock"
  "$@"
}

# Sourcing the script (tests, debugging) defines the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
case ${1:-} in
  start) with_lock start ;;
  stop) with_lock stop ;;
  env) env_cmd ;;
  status) status ;;
  exec) shift; holder_alive || die "no node running in $STATE"; inside "$@" ;;
  images) cut -d' ' -f1,2 "$STATE/images/images" ;;
  *) echo "usage: $0 start|stop|env|status|exec CMD...|images" >&2; exit 2 ;;
esac

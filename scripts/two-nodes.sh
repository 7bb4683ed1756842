#!/usr/bin/env bash
# Two "nodes" on this machine, as a cluster looks to MPI: two network namespaces joined by
# a veth pair (10.77.0.1 and 10.77.0.2), each with its own host name, sshd on the second,
# and a hostfile naming both. mpirun on node-a starts node-b's rank over ssh, and the ranks
# talk over TCP only (no shared memory between "nodes"): what `mpirun --hostfile` does on a
# real cluster. Needs root, iproute2, openssh-server and OpenMPI.
#
#   scripts/two-nodes.sh up                 # create the nodes (idempotent)
#   scripts/two-nodes.sh run CMD ARGS...    # mpirun -np 2 over both nodes: CMD ARGS on each
#   scripts/two-nodes.sh down               # remove them
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${HBT_NODES_DIR:-/tmp/hbt-nodes}
A=hbt-node-a B=hbt-node-b

up() {
  mkdir -p "$STATE"
  if ! ip netns list | grep -q "^$A"; then
    ip netns add $A
    ip netns add $B
    ip link add hbt-va type veth peer name hbt-vb
    ip link set hbt-va netns $A
    ip link set hbt-vb netns $B
    ip -n $A addr add 10.77.0.1/24 dev hbt-va
    ip -n $B addr add 10.77.0.2/24 dev hbt-vb
    for n in $A $B; do ip -n $n link set lo up; done
    ip -n $A link set hbt-va up
    ip -n $B link set hbt-vb up
  fi
  [ -f "$STATE/key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/key"
  mkdir -p ~/.ssh && chmod 700 ~/.ssh
  grep -qf "$STATE/key.pub" ~/.ssh/authorized_keys 2>/dev/null || cat "$STATE/key.pub" >> ~/.ssh/authorized_keys
  chmod 600 ~/.ssh/authorized_keys
  [ -f "$STATE/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/host_key"
  mkdir -p /run/sshd
  if ! [ -f "$STATE/sshd.pid" ] || ! kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; then
    # node-b: its own network and host name; what ssh starts there inherits both.
    ip netns exec $B unshare --uts sh -c "hostname node-b; exec /usr/sbin/sshd -o ListenAddress=10.77.0.2 \
      -o HostKey=$STATE/host_key -o PidFile=$STATE/sshd.pid -o PermitRootLogin=prohibit-password \
      -o StrictModes=no -o UsePAM=no"
    sleep 0.5
  fi
  printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$STATE/hostfile"
  echo "nodes up: node-a 10.77.0.1 (mpirun here), node-b 10.77.0.2 (sshd); hostfile $STATE/hostfile"
}

run() {
  [ -f "$STATE/hostfile" ] || up >/dev/null
  # The environment hbt reads, forwarded to the remote rank where it is set.
  local fwd=(-x PATH)
  for v in HBT_BACKEND HBT_TEST_DUMP_DIR HBT_TEST_STEP_DELAY_MS RAYON_NUM_THREADS; do
    [ -n "${!v:-}" ] && fwd+=(-x "$v")
  done
  # --mca btl tcp,self: no shared-memory transport, as between real machines.
  ip netns exec $A unshare --uts sh -c 'hostname node-a; exec "$@"' sh \
    mpirun --allow-run-as-root --hostfile "$STATE/hostfile" -np 2 \
    --mca plm_rsh_args "-i $STATE/key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    "${fwd[@]}" "$@"
}

down() {
  [ -f "$STATE/sshd.pid" ] && kill "$(cat "$STATE/sshd.pid")" 2>/dev/null || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -f "$STATE/hostfile" "$STATE/sshd.pid"
}

case "${1:-}" in
  up) up ;;
  run) shift; run "$@" ;;
  down) down ;;
  *) echo "usage: $0 up | run CMD ARGS... | down" >&2; exit 2 ;;
esac

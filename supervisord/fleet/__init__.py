"""Many daemons, one view, through etcd v3: membership, state, forwarding, shared programs (docs/fleet.md)."""

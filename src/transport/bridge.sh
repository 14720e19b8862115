#!/bin/sh
# fam-mirror's remote shell for rsync (rsync --rsh). rsync runs it as `bridge.sh HOST rsync --server …`.
# It never talks to the network: fd 3 (data) and fd 4 (control) are sockets to the fam-mirror
# process, inherited through rsync, and fam-mirror runs the command on its persistent ssh2
# connection. Protocol on fd 4: we send argc then each argument, NUL-terminated; fam-mirror answers
# with the remote exit status and a newline once the exec channel has closed.
# rsync waits for this process to exit and never closes our stdin (docs/internals.md, "the bridge"), so we exit when
# fam-mirror ends the data stream, not when stdin ends.
exec 5<&0
printf '%s\0' "$#" "$@" >&4
cat <&5 >&3 &
up=$!
cat <&3
read -r status <&4
kill "$up" 2>/dev/null
case "$status" in
  ''|*[!0-9]*) exit 255 ;;
  *) exit "$status" ;;
esac

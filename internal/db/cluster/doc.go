// Package cluster is the automatic failover controller of a replicated db
// tier on one host: one MariaDB primary, N replicas and HAProxy in front,
// with a write backend (every node a server, only the primary enabled) and
// a read backend (the replicas serve, the primary stands in when none can).
// The agent runs one Controller per stack; the agent restarts crashed
// mariadbd processes by itself, and every node starts read_only with
// skip_slave_start (see repl.Settings), so a restarted node is fenced
// until this package decides what it is.
//
// # Watching the primary
//
// Every Heartbeat the controller reads every node over its admin socket
// with a short timeout. The primary is healthy when it answers and is
// writable (read_only=OFF). Once it has been unhealthy without a break for
// FailAfter, the controller decides, in this order:
//
//   - Paused (Pause): no automatic failover; Status says so.
//   - Unreachable, but a witness still hears it: a replica whose IO thread
//     is connected ("Yes") to the primary and whose relay log or heartbeat
//     count (Slave_received_heartbeats) moved within the last 3s. Only the
//     controller's path to the primary is broken: no failover, logged and
//     shown in Status. A hung primary keeps its connections open but sends
//     no heartbeats: it loses its witnesses 3s after it stopped.
//     A primary that answers but is read_only restarted after a crash and
//     came back fenced: that is a failure whatever the replicas say.
//   - Anti-flapping: no second automatic failover within MinInterval of
//     the last one ("failover held back by anti-flapping" in Status).
//   - No replica can take over and the old primary is unreachable: wait.
//
// # Failing over
//
//  1. HAProxy: the old primary's server in the write backend goes to MAINT
//     and its sessions are shut, before anything else: never two writable
//     nodes behind the write endpoint. If HAProxy cannot be told, nothing
//     else happens (the app cannot write through a dead HAProxy anyway).
//  2. The old primary is fenced (repl.Fence) if it answers.
//  3. The candidate is repl.MostAdvanced among the reachable replicas of
//     the old primary (ties go to the earlier node in Config.Nodes). A
//     node that is already writable without replicating (a promotion cut
//     short by a controller restart) is taken as it is. If the old primary
//     answers (it restarted) and has transactions the candidate lacks, the
//     candidate gets a few seconds to receive them; if it still lacks them
//     (semi-sync had fallen back to asynchronous), the old primary is
//     promoted again in place instead: promoting the replica would throw
//     away acknowledged writes. An operator's Failover never does that.
//  4. Every replica of the old primary whose applier runs stops receiving
//     from it, all at once (a hung primary that wakes up sends nothing
//     more), then repl.Promote on the candidate.
//  5. The other replicas of the old primary follow it (repl.Repoint), so
//     that semi-sync has a replica to wait for before writes arrive.
//  6. HAProxy: the new primary READY in the write backend; the read
//     backend is recomputed (below).
//  7. Config.Primary, PromotedAt and LastFailover are recorded and the
//     OnChange callbacks called, so the caller persists them.
//
// # Nodes coming back
//
// While the primary is healthy, each other node that answers is looked at:
//
//   - Writable though not the primary (an old primary that was hung and
//     woke up): fenced at once, even while paused.
//   - Not replicating from the primary (an old primary after a restart,
//     a replica of an earlier primary) or with both replication threads
//     stopped without an error (a replica the agent restarted): its
//     transactions are checked with repl.Errant, against PromotedAt for a
//     node from an earlier topology, else against the primary's position.
//     None: repl.Repoint to the primary, and it serves reads again once
//     caught up. Errant: it is kept aside (role "kept-aside", MAINT in both
//     backends, Config.KeptAside says which GTIDs) and never rejoined
//     automatically; it must be re-seeded. A node the server refuses to
//     replicate (repl.ErrReplication) is kept aside too. A kept-aside node
//     found replicating from the primary without errant transactions (it
//     was re-seeded) is released.
//   - A replica whose operator stopped one thread is left alone (and out
//     of the read backend): only the state a restart leaves is repaired.
//
// Pause holds rejoins back too; the read backend is still kept right.
//
// # Read backend
//
// A replica serves reads (READY) while it replicates from the primary
// with its SQL thread running, its IO thread not stopped, and a lag of at
// most MaxLag; otherwise it is drained (DRAIN) until it is healthy again.
// An IO thread that is reconnecting does not drain it: while the primary
// is down, stale reads beat none. Unreachable and kept-aside nodes are in
// MAINT. The primary is in MAINT unless no replica is READY, then it
// stands in.
//
// # Restarts
//
// The controller keeps no state that Config does not hold: the caller
// persists Config (OnChange) and builds the next Controller from it. Run
// first makes HAProxy's write backend match Config.Primary, and every
// heartbeat reconciles both backends, so states lost to an HAProxy restart
// come back too.
package cluster

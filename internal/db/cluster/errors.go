package cluster

import "errors"

var (
	// ErrUnknownNode means a name that is none of Config.Nodes.
	ErrUnknownNode = errors.New("no such db node")
	// ErrNoCandidate means no replica can take over: none answers, or
	// none replicates from the primary without an applier error.
	ErrNoCandidate = errors.New("no replica can take over")
	// ErrNotReady means a node is not in the state an operation needs
	// (a switchover needs a healthy primary and a replica replicating
	// from it).
	ErrNotReady = errors.New("not ready")
)

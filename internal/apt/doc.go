// Package apt provisions the Debian packages that run a trio stack on a
// Debian 12 host: it maps stack components (nginx, php, mariadb, haproxy) to
// Debian package names, resolves a version prefix from trio.yaml to the exact
// build in apt's cache, pins the result in trio.lock, observes what dpkg has
// installed, and installs the pinned builds with apt-get.
//
// Deciding is separate from doing: Resolve, Observe, Drift and InstallCommand
// only read; Install is the one call that changes the host. Every external
// program runs through the Runner and Streamer fields of Apt, so tests feed
// recorded outputs instead of touching the machine.
package apt

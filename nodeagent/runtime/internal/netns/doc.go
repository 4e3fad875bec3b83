// Package netns creates, enters and removes named network namespaces: a namespace is kept alive by
// bind-mounting it on a file, like `ip netns add` does, so it outlives the process that created it
// and survives agent restarts (not host reboots: the directory normally lives on /run).
package netns

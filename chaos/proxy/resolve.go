package proxy

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcResolver returns a Resolver that names the process owning the client end of a local
// TCP connection. pids returns the candidate processes (PID → name) at the time of the call.
// It reads /proc/net/tcp and /proc/net/tcp6 for the socket whose local port is the
// connection's client port and whose remote port is the proxy's, then looks for that socket
// among each candidate's file descriptors. It works on Linux for processes the caller may
// inspect (the same user, or root).
func ProcResolver(pids func() map[int]string) Resolver {
	return func(remote, local *net.TCPAddr) string {
		inode, ok := socketInode(remote.Port, local.Port)
		if !ok {
			return ""
		}
		target := fmt.Sprintf("socket:[%d]", inode)
		for pid, name := range pids() {
			if ownsSocket(pid, target) {
				return name
			}
		}
		return ""
	}
}

// socketInode finds the inode of the TCP socket with local port localPort connected to
// remotePort.
func socketInode(localPort, remotePort int) (uint64, bool) {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if inode, ok := scanTCPTable(table, localPort, remotePort); ok {
			return inode, true
		}
	}
	return 0, false
}

func scanTCPTable(path string, localPort, remotePort int) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		if hexPort(fields[1]) != localPort || hexPort(fields[2]) != remotePort {
			continue
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err == nil && inode != 0 {
			return inode, true
		}
	}
	return 0, false
}

// hexPort extracts the port of an "ADDR:PORT" field of /proc/net/tcp.
func hexPort(field string) int {
	i := strings.LastIndexByte(field, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(field[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// ownsSocket reports whether process pid has a file descriptor for target ("socket:[N]").
func ownsSocket(pid int, target string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && link == target {
			return true
		}
	}
	return false
}

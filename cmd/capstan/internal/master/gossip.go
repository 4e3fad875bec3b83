package master

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/capstan-io/capstan/nodeagent/gossip"
	"github.com/capstan-io/capstan/raftstore"
)

// rejoinInterval is how often a master makes sure it gossips with every registered master.
const rejoinInterval = 10 * time.Second

// gossipKey reads the cluster's gossip key from the store, waiting for it to be replicated.
func (m *Master) gossipKey(ctx context.Context) ([]byte, error) {
	for {
		kv, found, _, err := m.store.Get(ctx, keyGossip, raftstore.ReadOptions{Stale: true})
		if err == nil && found {
			return base64.StdEncoding.DecodeString(string(kv.Value))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the cluster's gossip key is not in the store: %w", ctx.Err())
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// startGossip joins the liveness gossip once the key is known.
func (m *Master) startGossip(ctx context.Context) (*gossip.Gossip, error) {
	key, err := m.gossipKey(ctx)
	if err != nil {
		return nil, err
	}
	gc := gossip.DefaultConfig()
	gc.Name, gc.BindAddr, gc.Port, gc.AdvertiseAddr = m.cfg.Name, m.cfg.BindAddress, m.cfg.GossipPort, advertiseIP(m.cfg.Advertise)
	gc.Key, gc.Meta, gc.Logger = key, gossip.Meta{Role: gossip.RoleMaster, API: m.endpoints.APIURL}, m.log
	g, err := gossip.Start(gc)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// advertiseIP returns the advertise address if it is an IP (memberlist wants one), else "".
func advertiseIP(a string) string {
	if net.ParseIP(a) != nil {
		return a
	}
	return ""
}

// keepGossiping joins every registered master's gossip address now and then, so a restarted
// or partitioned master finds the others again. It runs until ctx ends.
func (m *Master) keepGossiping(ctx context.Context, g *gossip.Gossip) {
	for {
		if records, err := m.masterRecords(ctx); err == nil {
			var addrs []string
			for _, rec := range records {
				if rec.Name == m.cfg.Name || rec.GossipAddress == "" {
					continue
				}
				if mem, ok := g.Member(rec.Name); !ok || mem.State != gossip.Alive {
					addrs = append(addrs, rec.GossipAddress)
				}
			}
			if len(addrs) > 0 {
				if _, err := g.Join(addrs); err != nil {
					m.log.Debug("could not reach some masters' gossip", "addresses", addrs, "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rejoinInterval):
		}
	}
}

func gossipAddress(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

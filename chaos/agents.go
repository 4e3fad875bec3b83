package chaos

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/chaos/fault"
)

// hollowAgentName is the name of a run's hollow agent; its nodes are hollow-0, hollow-1, ...
const hollowAgentName = "hollow"

// agentSet is the node agents of a run, for the agent faults.
type agentSet struct {
	cl     *cluster.Cluster
	agents map[string]*cluster.Agent
}

var _ fault.Agents = (*agentSet)(nil)

// startHollowAgent starts one agent running n hollow nodes and waits until they are Ready.
func startHollowAgent(ctx context.Context, cl *cluster.Cluster, n int) (*agentSet, error) {
	a, err := cl.StartAgent(ctx, cluster.AgentConfig{Name: hollowAgentName, Hollow: n})
	if err != nil {
		return nil, fmt.Errorf("start %d hollow nodes: %w", n, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := cl.WaitNodesReady(wctx, a); err != nil {
		return nil, fmt.Errorf("%d hollow nodes not Ready: %w", n, err)
	}
	return &agentSet{cl: cl, agents: map[string]*cluster.Agent{a.Name: a}}, nil
}

// Names implements fault.Agents.
func (s *agentSet) Names() []string {
	names := make([]string, 0, len(s.agents))
	for n := range s.agents {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Kill implements fault.Agents.
func (s *agentSet) Kill(_ context.Context, name string) error {
	a, ok := s.agents[name]
	if !ok {
		return fmt.Errorf("no agent %q", name)
	}
	return s.cl.KillAgent(a)
}

// Restart implements fault.Agents: the agent starts again with its identity and its nodes
// are Ready again.
func (s *agentSet) Restart(ctx context.Context, name string) error {
	a, ok := s.agents[name]
	if !ok {
		return fmt.Errorf("no agent %q", name)
	}
	if err := s.cl.RestartAgent(a); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.cl.WaitNodesReady(wctx, a)
}

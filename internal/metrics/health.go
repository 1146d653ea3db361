package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// DefaultNoPartitionsGrace is how long a ready worker may own no partition
// before /healthz reports it (a rebalance normally takes seconds).
const DefaultNoPartitionsGrace = 2 * time.Minute

type health struct {
	mu        sync.Mutex
	stuck     map[int]string // partition → why
	zeroSince time.Time
	grace     time.Duration
	graceSet  bool
	now       func() time.Time
}

// SetStuck marks a partition as unable to progress (or recovered); it has
// queue.StuckFunc's signature. A stuck partition makes /healthz answer 503
// naming it and sets nerstream_partition_stuck{partition} to 1.
func (m *Metrics) SetStuck(partition int, offset int64, stuck bool, err error) {
	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	if m.h.stuck == nil {
		m.h.stuck = map[int]string{}
	}
	if stuck {
		m.h.stuck[partition] = fmt.Sprintf("partition %d stuck at offset %d: %v", partition, offset, err)
		m.PartitionStuck.WithLabelValues(strconv.Itoa(partition)).Set(1)
	} else {
		delete(m.h.stuck, partition)
		m.PartitionStuck.WithLabelValues(strconv.Itoa(partition)).Set(0)
	}
}

// SetNoPartitionsGrace overrides DefaultNoPartitionsGrace (0: report at
// once).
func (m *Metrics) SetNoPartitionsGrace(d time.Duration) {
	m.h.mu.Lock()
	m.h.grace, m.h.graceSet = max(d, 0), true
	m.h.mu.Unlock()
}

// healthErr says why a ready worker is not healthy: a stuck partition, or no
// partition assigned for longer than the grace period.
func (m *Metrics) healthErr() error {
	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	if len(m.h.stuck) > 0 {
		ps := make([]int, 0, len(m.h.stuck))
		for p := range m.h.stuck {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = m.h.stuck[p]
		}
		return fmt.Errorf("unhealthy: %s", strings.Join(msgs, "; "))
	}
	now := time.Now
	if m.h.now != nil {
		now = m.h.now
	}
	var g dto.Metric
	if err := m.Partitions.Write(&g); err == nil && g.GetGauge().GetValue() > 0 {
		m.h.zeroSince = time.Time{}
		return nil
	}
	if m.h.zeroSince.IsZero() {
		m.h.zeroSince = now()
	}
	grace := DefaultNoPartitionsGrace
	if m.h.graceSet {
		grace = m.h.grace
	}
	if d := now().Sub(m.h.zeroSince); d >= grace {
		return fmt.Errorf("unhealthy: no partition assigned for %s (more workers than partitions, or the member is out of its group)", d.Round(time.Second))
	}
	return nil
}

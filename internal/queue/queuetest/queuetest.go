// Package queuetest has ready-made fakes of the queue package's interfaces
// for handler tests that need no broker.
package queuetest

import (
	"context"
	"sync"

	"github.com/nerstream/nerstream/internal/queue"
)

// Partition is an in-memory queue.Partition: it records commits and
// answers HighWatermark with a value the test sets. Safe for concurrent use.
type Partition struct {
	topic string
	id    int

	mu      sync.Mutex
	hwm     int64
	hwmErr  error
	commits []int64
}

// NewPartition returns a fake partition id of topic with high-water mark 0.
func NewPartition(topic string, id int) *Partition {
	return &Partition{topic: topic, id: id}
}

// Topic implements queue.Partition.
func (p *Partition) Topic() string { return p.topic }

// ID implements queue.Partition.
func (p *Partition) ID() int { return p.id }

// Commit implements queue.Partition by recording next.
func (p *Partition) Commit(ctx context.Context, next int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.commits = append(p.commits, next)
	return nil
}

// HighWatermark implements queue.Partition with the value set by
// SetHighWatermark (or its error).
func (p *Partition) HighWatermark(context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hwm, p.hwmErr
}

// SetHighWatermark sets what HighWatermark answers.
func (p *Partition) SetHighWatermark(hwm int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hwm, p.hwmErr = hwm, err
}

// Commits returns the committed offsets in call order.
func (p *Partition) Commits() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.commits...)
}

var _ queue.Partition = (*Partition)(nil)
